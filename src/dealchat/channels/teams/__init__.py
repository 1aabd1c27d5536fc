"""Microsoft Teams through the Bot Framework: JWT-authenticated activities in and out."""
