"""Read models built from the event log by projectors with their own tracking.

Empty for now: queries read the aggregates through their applications.
"""
