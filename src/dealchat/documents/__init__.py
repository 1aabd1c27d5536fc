"""Documents: uploads through a secure link, type checks by content, size limits, virus scan,
encryption at rest under the conversation's data key, download only with the right to it."""
