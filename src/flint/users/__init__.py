"""Users: the people, their profiles, and who is calling (the bearer token's user).

Other features import it through `flint.users.api`."""
