"""The claims ledger: one Claim per theorem / lemma of the five papers, run by ``eftheory verify``."""
