//! Hex text for module bytes, as lockstep's child processes (binaryen.js, external engines) exchange them.

/// Lowercase hex digits, two per byte.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = Vec::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(DIGITS[usize::from(byte >> 4)]);
        text.push(DIGITS[usize::from(byte & 15)]);
    }
    String::from_utf8(text).expect("hex digits are ASCII")
}

/// The bytes of hex text, or where it stops being hex.
pub fn unhex(text: &str) -> Result<Vec<u8>, String> {
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let byte = |pair: &[u8]| match pair {
        [high, low] => Some(digit(*high)? << 4 | digit(*low)?),
        _ => None,
    };
    text.as_bytes()
        .chunks(2)
        .enumerate()
        .map(|(i, pair)| byte(pair).ok_or_else(|| format!("not hex at character {}", 2 * i)))
        .collect()
}

/// Bytes as one hex string in text formats (`#[serde(with = "oracles::hex::text")]`):
/// in JSON half the size of an array of numbers, and parsed several times faster.
/// Binary formats keep them as bytes.
pub mod text {
    use crate::hex::{hex, unhex};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        match serializer.is_human_readable() {
            true => serializer.serialize_str(&hex(bytes)),
            false => serializer.serialize_bytes(bytes),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        if !deserializer.is_human_readable() {
            return <Vec<u8>>::deserialize(deserializer);
        }
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        unhex(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_names_where_it_breaks() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(unhex(&hex(&bytes)).unwrap(), bytes);
        assert_eq!(unhex("abc").unwrap_err(), "not hex at character 2");
        assert_eq!(unhex("0é").unwrap_err(), "not hex at character 0");
    }

    #[test]
    fn bytes_cross_json_as_one_hex_string() {
        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct Module(#[serde(with = "super::text")] Vec<u8>);
        let json = serde_json::to_string(&Module(b"\0asm".to_vec())).unwrap();
        assert_eq!(json, r#""0061736d""#);
        assert_eq!(serde_json::from_str::<Module>(&json).unwrap().0, b"\0asm");
        assert!(serde_json::from_str::<Module>(r#""0g""#).is_err());
    }
}
