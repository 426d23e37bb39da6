"""Answers from a session's figures: verdicts with confidence, a diagnosis per run, published
references, the report's Findings and the regression gate. Pure: no processes, no Textual."""
