-- Licence PDFs may be kept packed (storage::packing): zstd-compressed against the PDF of another
-- version, kept as sealed, named by `packed_against`. `pdf_references` names the version that new
-- PDFs of a seal and template kind are packed against.
ALTER TABLE licence_pdfs ADD COLUMN packed_against TEXT REFERENCES licence_pdfs (identifier);
CREATE TABLE pdf_references (
    seal_id     TEXT NOT NULL REFERENCES seals (id),
    kind        TEXT NOT NULL,
    identifier  TEXT NOT NULL REFERENCES licence_pdfs (identifier),
    PRIMARY KEY (seal_id, kind)
);
