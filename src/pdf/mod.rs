//! PDF work, in the four separate steps pyHanko also separates: make a signature (`sign`),
//! lay out the appearance (`appearance`, with `font`), embed into the PDF (`embed`), and
//! validate (`validate`); plus `render`, which writes new documents (licences).

pub mod appearance;
pub mod embed;
pub mod font;
pub mod render;
pub mod sign;
pub mod validate;
