-- The item catalogue the demo's API serves (and its health check counts).
CREATE TABLE items (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE
);
INSERT INTO items (name) VALUES ('anchor'), ('buoy'), ('compass');
