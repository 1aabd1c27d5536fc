"""Identity: users, passwords, TOTP, chat identities, secure links and step-up proofs."""
