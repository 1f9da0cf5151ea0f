# R side of the differential fuzz (tests/fuzz/run.py): ONE R process for every data set.
# Usage: Rscript r_batch.R data.csv options.csv out.csv
# Writes long rows id, method, item, value (%.17g), note; item names match tests/fuzz/ours.py.
suppressPackageStartupMessages({library(survival); library(cmprsk)})
args <- commandArgs(trailingOnly = TRUE)
all_data <- read.csv(args[1], stringsAsFactors = FALSE)
all_opts <- read.csv(args[2], stringsAsFactors = FALSE)
TIMES <- c(0.5, 2, 5, 9)
PROBS <- c(0.25, 0.5, 0.75)
rows <- list()

guard <- function(id, method, compute) {
  msgs <- character(0)
  values <- tryCatch(withCallingHandlers(compute(), warning = function(w) {
      msgs <<- c(msgs, conditionMessage(w)); invokeRestart("muffleWarning") }),
    error = function(e) structure(NA_real_, names = "error", note = conditionMessage(e)))
  note <- ifelse(names(values) == "error", attr(values, "note") %||% "", "")
  rows[[length(rows) + 1]] <<- data.frame(id = id, method = method, item = names(values),
                                          value = sprintf("%.17g", as.double(values)), note = note)
  if (length(msgs)) rows[[length(rows) + 1]] <<- data.frame(id = id, method = method, item = "warning",
                                                            value = "NA", note = paste(msgs, collapse = " | "))
}
`%||%` <- function(a, b) if (is.null(a)) b else a
label <- function(strata, n) if (is.null(strata)) rep("all", n) else sub("^GRP=", "", as.character(strata))
surv_lhs <- function(o) if (o$entry) "Surv(ENTRY, AVAL, 1 - CNSR)" else "Surv(AVAL, 1 - CNSR)"

km <- function(d, o, rhs) {
  fit <- if (o$weights != "none") survfit(as.formula(paste(surv_lhs(o), "~", rhs)), data = d, weights = W,
                                          conf.type = "log-log")
         else survfit(as.formula(paste(surv_lhs(o), "~", rhs)), data = d, conf.type = "log-log")
  fit
}

km_values <- function(d, o, rhs) {
  s <- summary(km(d, o, rhs), times = TIMES, extend = TRUE)
  g <- label(s$strata, length(s$time))
  v <- c(rbind(s$surv, s$std.err, s$lower, s$upper, s$n.risk))
  names(v) <- c(t(outer(paste(g, as.character(s$time), sep = "|"), c("surv", "std_err", "lcl", "ucl", "n_risk"),
                        paste, sep = "|")))
  v
}

quantile_values <- function(d, o, rhs) {
  fit <- km(d, o, rhs)
  q <- quantile(fit, probs = PROBS)
  qm <- matrix(q$quantile, ncol = length(PROBS)); lo <- matrix(q$lower, ncol = length(PROBS))
  hi <- matrix(q$upper, ncol = length(PROBS))
  g <- if (is.null(fit$strata)) "all" else sub("^GRP=", "", names(fit$strata))
  v <- c(); nm <- c()
  for (i in seq_along(g)) for (j in seq_along(PROBS)) {
    v <- c(v, qm[i, j], lo[i, j], hi[i, j])
    nm <- c(nm, paste(g[i], as.character(PROBS[j]), c("quantile", "lcl", "ucl"), sep = "|"))
  }
  names(v) <- nm
  v
}

logrank_values <- function(d, o) {
  rhs <- if (o$strata) "GRP + strata(STRAT)" else "GRP"
  s <- survdiff(as.formula(paste("Surv(AVAL, 1 - CNSR) ~", rhs)), data = d, rho = o$rho)
  g <- sub("^GRP=", "", names(s$n))
  obs <- if (is.matrix(s$obs)) rowSums(s$obs) else s$obs
  ex <- if (is.matrix(s$exp)) rowSums(s$exp) else s$exp
  v <- c(s$chisq, obs, ex)
  names(v) <- c("chisq", paste(g, "observed", sep = "|"), paste(g, "expected", sep = "|"))
  v
}

cox_values <- function(d, o, grouped) {
  rhs <- paste(c(if (grouped) "GRP", "X", if (o$strata) "strata(STRAT)"), collapse = " + ")
  f <- as.formula(paste(surv_lhs(o), "~", rhs))
  fit <- if (o$weights != "none") coxph(f, data = d, weights = W, ties = "efron") else coxph(f, data = d, ties = "efron")
  b <- coef(fit); se <- ifelse(is.na(b), NA, sqrt(pmax(diag(fit$var), 0)))
  v <- c(rbind(b, se)); names(v) <- c(rbind(paste0("coef", seq_along(b) - 1), paste0("se", seq_along(b) - 1)))
  v
}

cif_values <- function(d) {
  # one cuminc per group (no group argument, so no Gray test, whose Fortran can fail on its own)
  causes <- sort(unique(d$EVNTTYPE[d$EVNTTYPE != 0]))
  if (length(causes) == 0) stop("no events")
  grouped <- length(unique(d$GRP)) > 1
  v <- c(); n <- c()
  for (lv in sort(unique(d$GRP))) {
    s <- d[d$GRP == lv, ]
    # cuminc fails on a group without events ("NAs in foreign function call"): its CIFs are all 0
    tp <- if (any(s$EVNTTYPE != 0)) timepoints(cuminc(s$AVAL, s$EVNTTYPE), TIMES) else NULL
    present <- if (is.null(tp)) integer(0) else as.integer(sub("^.* ", "", rownames(tp$est)))
    for (cs in causes) for (j in seq_along(TIMES)) {
      i <- match(cs, present)
      # a cause absent from this group: cuminc has no row; its CIF is 0 (variance 0) up to the last time
      est <- if (is.na(i)) ifelse(TIMES[j] <= max(s$AVAL), 0, NA) else tp$est[i, j]
      vv <- if (is.na(i)) ifelse(TIMES[j] <= max(s$AVAL), 0, NA) else tp$var[i, j]
      v <- c(v, est, vv)
      n <- c(n, paste(if (grouped) lv else "all", cs, as.character(TIMES[j]), c("cif", "var"), sep = "|"))
    }
  }
  names(v) <- n
  v
}

gray_values <- function(d, o) {
  ci <- if (o$strata) cuminc(d$AVAL, d$EVNTTYPE, d$GRP, strata = d$STRAT) else cuminc(d$AVAL, d$EVNTTYPE, d$GRP)
  if (is.null(ci$Tests)) stop("cuminc: no tests (one group)")
  v <- ci$Tests[, "stat"]; names(v) <- paste(rownames(ci$Tests), "stat", sep = "|")
  v
}

finegray_values <- function(d, grouped) {
  lv <- sort(unique(d$GRP))
  X <- if (grouped) cbind(sapply(lv[-1], function(l) as.numeric(d$GRP == l)), d$X) else cbind(d$X)
  f <- crr(d$AVAL, d$EVNTTYPE, X, failcode = 1, gtol = 1e-9)
  se <- sqrt(diag(f$var))
  v <- c(rbind(f$coef, se), as.numeric(f$converged))
  names(v) <- c(rbind(paste0("coef", seq_along(f$coef) - 1), paste0("se", seq_along(f$coef) - 1)), "converged")
  v
}

for (id in all_opts$id) {
  d <- all_data[all_data$id == id, ]
  o <- all_opts[all_opts$id == id, ]
  grouped <- length(unique(d$GRP)) > 1
  rhs <- if (grouped) "GRP" else "1"
  guard(id, "km", function() km_values(d, o, rhs))
  guard(id, "quantile", function() quantile_values(d, o, rhs))
  guard(id, "logrank", function() logrank_values(d, o))
  guard(id, "cox", function() cox_values(d, o, grouped))
  guard(id, "cif", function() cif_values(d))
  guard(id, "gray", function() gray_values(d, o))
  guard(id, "finegray", function() finegray_values(d, grouped))
}
write.csv(do.call(rbind, rows), args[3], row.names = FALSE)
