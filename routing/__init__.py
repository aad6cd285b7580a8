"""Pure decisions, no I/O: legal areas, the classifier, crisis detection, hours and matching."""
