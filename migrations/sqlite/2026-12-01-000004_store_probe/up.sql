-- One row the health check rewrites, to see that the store can commit (GET /healthz).
CREATE TABLE store_probe (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    probes BIGINT NOT NULL
);
INSERT INTO store_probe (id, probes) VALUES (1, 0);
