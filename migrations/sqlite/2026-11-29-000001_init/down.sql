DROP TABLE change_counter;
DROP TABLE audit_log;
DROP TABLE signing_keys;
DROP TABLE client_secrets;
DROP TABLE clients;
DROP TABLE tenants;
