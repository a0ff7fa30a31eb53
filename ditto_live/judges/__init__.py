"""The judges: loss-shaped metrics, independent judges, each job's measurement and its plot."""
