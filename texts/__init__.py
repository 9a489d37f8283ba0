"""What people are told: facts and a language in, text and buttons as plain data out.

Gettext catalogs, labels, how times are shown and the callback data of every button live
here. Nothing in this package imports Telegram or runs a query.
"""
