"""Shell, last stage: outgoing mail rendered, signed and queued with the change, then sent through the smart host."""
