//! Ids in the shape the AI SDK's `generateId` makes them: 16 characters of `[0-9A-Za-z]`.

use rand::Rng;

const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const ID_LENGTH: usize = 16;

/// A fresh random id, as `generateId()` returns.
pub fn generate() -> String {
    let mut rng = rand::rng();
    (0..ID_LENGTH)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn sixteen_alphanumerics_and_not_repeated() {
        let a = super::generate();
        let b = super::generate();
        assert_eq!(a.len(), 16);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }
}
