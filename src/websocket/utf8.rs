//! UTF-8 validation of a text message as its pieces arrive (RFC 6455 §8.1: a text message
//! must be valid UTF-8, and a character may be split across fragments and reads).

/// The bytes seen are not UTF-8 (or a message ended inside a character).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidUtf8;

/// UTF-8 checked piece by piece: a character may be split across pieces (and frames).
#[derive(Default)]
pub struct Utf8Check {
    /// The start of a character that the last piece cut off (at most 3 bytes).
    carry: Vec<u8>,
}

impl Utf8Check {
    /// Checks the next piece; a character it cuts off is finished by the next one.
    pub fn check(&mut self, mut piece: &[u8]) -> Result<(), InvalidUtf8> {
        while !self.carry.is_empty() && !piece.is_empty() {
            self.carry.push(piece[0]);
            piece = &piece[1..];
            match std::str::from_utf8(&self.carry) {
                Ok(_) => self.carry.clear(),
                Err(err) if err.error_len().is_some() => return Err(InvalidUtf8),
                Err(_) => {}
            }
        }
        match std::str::from_utf8(piece) {
            Ok(_) => Ok(()),
            Err(err) if err.error_len().is_some() => Err(InvalidUtf8),
            Err(err) => {
                self.carry.extend_from_slice(&piece[err.valid_up_to()..]);
                Ok(())
            }
        }
    }

    /// Bytes held of a character not finished yet (at most 3).
    pub fn pending(&self) -> usize {
        self.carry.len()
    }

    /// The message ended: a character left unfinished is invalid.
    pub fn finish(&self) -> Result<(), InvalidUtf8> {
        match self.carry.is_empty() {
            true => Ok(()),
            false => Err(InvalidUtf8),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_character_split_across_pieces_is_valid_and_a_cut_one_is_not() {
        let text = "넓이".as_bytes();
        let mut check = Utf8Check::default();
        assert_eq!(check.check(&text[..1]), Ok(()));
        assert_eq!(check.check(&text[1..4]), Ok(()));
        assert_eq!(check.check(&text[4..]), Ok(()));
        assert_eq!(check.finish(), Ok(()));
        let mut cut = Utf8Check::default();
        assert_eq!(cut.check(&text[..2]), Ok(()));
        assert_eq!(cut.finish(), Err(InvalidUtf8));
        assert_eq!(Utf8Check::default().check(&[0xff]), Err(InvalidUtf8));
    }
}
