"""Generation: the job language, the one pipeline, targets, execution backends, model bundles."""
