"""The roster: districts, schools, the people bound to them, invitations, roster files."""
