-- The signed PDFs leave the version rows for a table of their own: reading a version's record
-- (verification, search, the lifecycle) no longer walks the PDF's pages in SQLite, where a
-- column after a large value is reached only through the value's overflow pages.
CREATE TABLE licence_pdfs (
    identifier  TEXT PRIMARY KEY REFERENCES licence_versions (identifier),
    pdf         BYTEA NOT NULL
);
INSERT INTO licence_pdfs (identifier, pdf) SELECT identifier, pdf FROM licence_versions;
ALTER TABLE licence_versions DROP COLUMN pdf;
