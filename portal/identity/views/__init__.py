"""Identity pages, one module per seam: ``teams`` (a utility's or an installer company's
members and invitations), ``invitations`` (accepting one) and ``access_requests`` (installer
companies asking to work in a utility, and the program admin's decision)."""
