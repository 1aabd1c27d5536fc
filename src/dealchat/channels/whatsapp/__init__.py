"""WhatsApp Cloud API: signed webhooks in, /messages out."""
