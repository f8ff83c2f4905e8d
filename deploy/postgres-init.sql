-- Runs once, when the PostgreSQL volume is first initialised: the sandbox institution keeps its
-- accounts in a database of its own (it plays a separate bank), owned by the same role.
CREATE DATABASE flint_sandbox;
