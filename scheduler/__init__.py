"""Time-driven work: reminder and summary jobs, the delivery worker, the leader lock."""
