"""Journey Studio: a desktop customer-journey builder with a local messaging engine."""
