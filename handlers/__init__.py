"""Telegram in, Telegram out: one module per capability, each with register(app)."""

# Order matters only where handlers could both match; later capabilities append here.
MODULES = [
    "handlers.start",
    "handlers.errors",
    "handlers.menu",
    "handlers.onboarding",
    "handlers.admin",
    "handlers.report",
    "handlers.rounds",
    "handlers.notices",
    "handlers.status",
]
