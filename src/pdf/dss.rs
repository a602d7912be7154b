//! Validation data in the file (PAdES B-LT): the certificates and revocation information a
//! validator needs years later, when the CA's CRL may be gone, kept in the document security
//! store (`/DSS`, ISO 32000-2 §12.8.4.3) that one more incremental update adds to the
//! catalog. Signatures already in the file stay valid: validators allow DSS updates.

use lopdf::{Dictionary, Object, ObjectId, Stream};

use super::embed::{finish_update, write_objects, EmbedError, UpdatedPdf};

/// What goes into the DSS, each item DER.
#[derive(Debug, Clone, Default)]
pub struct ValidationData {
    /// Certificates of the signers, their issuers and the time-stamping authority.
    pub certificates: Vec<Vec<u8>>,
    /// CRLs covering them.
    pub crls: Vec<Vec<u8>>,
}

/// Appends an update that adds `data` to the document's DSS (creating it if there is none);
/// items the DSS already holds are not repeated.
pub fn add_validation_data(
    original: Vec<u8>,
    data: &ValidationData,
    password: Option<&str>,
) -> Result<UpdatedPdf, EmbedError> {
    let mut doc = super::load_for_update(&original, password)
        .map_err(|e| EmbedError::Damaged(e.to_string()))?;
    let encryption = doc.encryption_state.clone();
    let original_max_id = doc.max_id;
    let catalog_id = doc
        .trailer
        .get(b"Root")
        .and_then(Object::as_reference)
        .map_err(|_| EmbedError::Damaged("the trailer has no /Root catalog reference".into()))?;
    let existing = doc
        .get_object(catalog_id)
        .and_then(Object::as_dict)
        .map_err(|_| EmbedError::Damaged("the catalog is not a dictionary".into()))?
        .get(b"DSS")
        .ok()
        .and_then(|dss| match dss {
            Object::Reference(id) => doc.get_dictionary(*id).ok().cloned(),
            Object::Dictionary(dict) => Some(dict.clone()),
            _ => None,
        })
        .unwrap_or_default();

    let mut dss = existing.clone();
    for (key, items) in [("Certs", &data.certificates), ("CRLs", &data.crls)] {
        let mut entries = match existing.get(key.as_bytes()) {
            Ok(Object::Array(entries)) => entries.clone(),
            _ => Vec::new(),
        };
        let held: Vec<Vec<u8>> = entries
            .iter()
            .filter_map(|entry| entry.as_reference().ok())
            .filter_map(|id| doc.get_object(id).ok()?.as_stream().ok())
            .map(|stream| {
                stream
                    .decompressed_content()
                    .unwrap_or_else(|_| stream.content.clone())
            })
            .collect();
        for item in items {
            if !held.contains(item) {
                let id = doc.add_object(Stream::new(Dictionary::new(), item.clone()));
                entries.push(Object::Reference(id));
            }
        }
        dss.set(key, entries);
    }
    let dss_id = doc.add_object(dss);
    let mut catalog = doc
        .get_dictionary(catalog_id)
        .map_err(|_| EmbedError::Damaged("the catalog is not a dictionary".into()))?
        .clone();
    catalog.set("DSS", dss_id);
    doc.objects.insert(catalog_id, Object::Dictionary(catalog));
    let mut ids: Vec<ObjectId> = doc
        .objects
        .keys()
        .copied()
        .filter(|(id, _)| *id > original_max_id)
        .chain([catalog_id])
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let mut out = UpdatedPdf::start(original, 0);
    let offsets = write_objects(&mut out, &doc, &ids, encryption.as_ref())?;
    finish_update(&mut out, &doc, catalog_id, offsets, encryption.as_ref());
    Ok(out)
}
