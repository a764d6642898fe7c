DROP TABLE assertion_replay;
ALTER TABLE client_secrets DROP COLUMN sealed_secret;
