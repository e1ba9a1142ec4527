// Ink switches to a non-interactive rendering mode when CI is set; screens are tested as users see them.
delete process.env['CI'];
