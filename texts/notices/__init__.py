"""What people read about notices: the messages recipients get (messages), what staff read
while composing (compose) and about notices that went out (follow)."""
