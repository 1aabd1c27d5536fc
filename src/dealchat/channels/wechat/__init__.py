"""WeChat official account: signed, optionally AES-encrypted XML in; customer service out."""
