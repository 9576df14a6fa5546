//! What an upload is, decided from its bytes alone: the MIME type (magic numbers, through
//! `infer`), and for raster images (JPEG, PNG, GIF, WebP) the size in pixels and a thumbnail.
//! The pixel count and the decoded size are checked from the image header before anything
//! is decoded, so a decompression bomb is refused without being expanded, and the decoder's
//! allocations are bounded (`image::Limits`); the EXIF orientation is applied to the
//! thumbnail, never to a copy of the whole image. Pure and blocking: callers run it
//! on a blocking thread, never on an actor's.

use std::io::Cursor;
use std::sync::LazyLock;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

/// The longer side of a thumbnail, in pixels.
pub const THUMBNAIL_SIDE: u32 = 320;

/// Bounds on what is decoded.
#[derive(Clone, Copy, Debug)]
pub struct ImageBounds {
    /// An image with more pixels than this (width × height, from its header) is refused.
    pub max_pixels: u64,
    /// The most the decoder may allocate for one image; the decoded image (width × height ×
    /// bytes per pixel, from its header) must fit in it too.
    pub max_alloc: u64,
}

impl Default for ImageBounds {
    fn default() -> Self {
        ImageBounds {
            // A 50-megapixel phone photo (8160 × 6120) fits.
            max_pixels: 50_000_000,
            // 50 million pixels of 8-bit RGBA (a 50-megapixel photo) fit; at 16 bits per
            // channel, half as many.
            max_alloc: 200 * 1024 * 1024,
        }
    }
}

/// What the bytes turned out to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inspected {
    pub mime: String,
    /// Width and height as shown (EXIF orientation applied), for images that decode.
    pub dimensions: Option<(u32, u32)>,
    pub thumbnail: Option<Thumbnail>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Thumbnail {
    /// `image/jpeg`, or `image/png` for images with transparency.
    pub mime: &'static str,
    pub bytes: Vec<u8>,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("the image is {width} × {height} pixels; at most {max} pixels are accepted")]
    TooManyPixels { width: u32, height: u32, max: u64 },
    /// Decoded, the image would take more memory than the decoder may use.
    #[error("the image is {width} × {height} pixels of {bytes} bytes decoded; at most {max} bytes are decoded")]
    TooManyBytes {
        width: u32,
        height: u32,
        bytes: u64,
        max: u64,
    },
    /// The decoder itself found the image over its limits (memory, dimensions).
    #[error("the image is too large to decode: {0}")]
    OverLimits(String),
}

/// Raster formats served inline and given a thumbnail, by MIME type.
const RASTER: &[(&str, ImageFormat)] = &[
    ("image/jpeg", ImageFormat::Jpeg),
    ("image/png", ImageFormat::Png),
    ("image/gif", ImageFormat::Gif),
    ("image/webp", ImageFormat::WebP),
];

pub fn is_raster(mime: &str) -> bool {
    RASTER.iter().any(|(raster, _)| *raster == mime)
}

/// infer's matchers, with SVG added (infer calls a document starting `<svg` nothing, and
/// one starting `<?xml` just XML). Custom matchers are tried first.
static MATCHERS: LazyLock<infer::Infer> = LazyLock::new(|| {
    let mut matchers = infer::Infer::new();
    matchers.add("image/svg+xml", "svg", is_svg);
    matchers
});

fn is_svg(buf: &[u8]) -> bool {
    let head = &buf[..buf.len().min(4096)];
    let text = String::from_utf8_lossy(head).to_ascii_lowercase();
    let text = text.trim_start_matches('\u{feff}').trim_start();
    (text.starts_with("<svg") || text.starts_with("<?xml") || text.starts_with("<!doctype svg"))
        && text.contains("<svg")
}

/// The MIME type of `bytes`: from magic numbers; UTF-8 text without a known signature is
/// `text/plain`; anything else `application/octet-stream`.
pub fn mime_of(bytes: &[u8]) -> String {
    match MATCHERS.get(bytes) {
        Some(kind) => kind.mime_type().to_string(),
        None if std::str::from_utf8(bytes).is_ok() && !bytes.contains(&0) => "text/plain".into(),
        None => "application/octet-stream".into(),
    }
}

/// Detects the type of `bytes` and, for a raster image, reads its size and makes its
/// thumbnail. An image that does not decode is kept as a plain file (no size, no thumbnail);
/// one over `bounds.max_pixels` is refused.
pub fn inspect(bytes: &[u8], bounds: ImageBounds) -> Result<Inspected, Refused> {
    let mime = mime_of(bytes);
    let format = RASTER
        .iter()
        .find(|(raster, _)| *raster == mime)
        .map(|(_, format)| *format);
    let Some(format) = format else {
        return Ok(Inspected {
            mime,
            dimensions: None,
            thumbnail: None,
        });
    };
    match decode(bytes, format, bounds) {
        Ok(Decoded {
            image,
            dimensions,
            orientation,
        }) => Ok(Inspected {
            mime,
            dimensions: Some(dimensions),
            thumbnail: thumbnail(&image, orientation),
        }),
        Err(DecodeError::Refused(refused)) => Err(refused),
        Err(DecodeError::Image(err)) => {
            log::debug!("an upload detected as {mime} does not decode: {err}");
            Ok(Inspected {
                mime,
                dimensions: None,
                thumbnail: None,
            })
        }
    }
}

struct Decoded {
    image: DynamicImage,
    dimensions: (u32, u32),
    orientation: image::metadata::Orientation,
}

enum DecodeError {
    Refused(Refused),
    Image(image::ImageError),
}

impl From<image::ImageError> for DecodeError {
    fn from(err: image::ImageError) -> Self {
        match err {
            image::ImageError::Limits(limits) => {
                DecodeError::Refused(Refused::OverLimits(limits.to_string()))
            }
            other => DecodeError::Image(other),
        }
    }
}

fn decode(bytes: &[u8], format: ImageFormat, bounds: ImageBounds) -> Result<Decoded, DecodeError> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_alloc = Some(bounds.max_alloc);
    reader.limits(limits);
    let mut decoder = reader.into_decoder()?;
    // The header alone says how many pixels decoding would make: check before decoding.
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > bounds.max_pixels {
        return Err(DecodeError::Refused(Refused::TooManyPixels {
            width,
            height,
            max: bounds.max_pixels,
        }));
    }
    let decoded = decoder.total_bytes();
    if decoded > bounds.max_alloc {
        return Err(DecodeError::Refused(Refused::TooManyBytes {
            width,
            height,
            bytes: decoded,
            max: bounds.max_alloc,
        }));
    }
    let orientation = decoder.orientation()?;
    let turned = matches!(
        orientation,
        image::metadata::Orientation::Rotate90
            | image::metadata::Orientation::Rotate270
            | image::metadata::Orientation::Rotate90FlipH
            | image::metadata::Orientation::Rotate270FlipH
    );
    let dimensions = if turned {
        (height, width)
    } else {
        (width, height)
    };
    let image = DynamicImage::from_decoder(decoder)?;
    Ok(Decoded {
        image,
        dimensions,
        orientation,
    })
}

/// At most [`THUMBNAIL_SIDE`] on the longer side, turned as the EXIF orientation says: PNG
/// when the image has transparency, JPEG otherwise.
fn thumbnail(image: &DynamicImage, orientation: image::metadata::Orientation) -> Option<Thumbnail> {
    let mut small = image.thumbnail(THUMBNAIL_SIDE, THUMBNAIL_SIDE);
    small.apply_orientation(orientation);
    let mut bytes = Vec::new();
    let (mime, encoded) = if small.color().has_alpha() {
        let encoded = small.write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png);
        ("image/png", encoded)
    } else {
        let rgb = DynamicImage::ImageRgb8(small.to_rgb8());
        let encoded = rgb.write_to(&mut Cursor::new(&mut bytes), ImageFormat::Jpeg);
        ("image/jpeg", encoded)
    };
    match encoded {
        Ok(()) => Some(Thumbnail { mime, bytes }),
        Err(err) => {
            log::warn!("cannot encode a thumbnail: {err}");
            None
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A PNG of `width` × `height`, with an alpha channel when `alpha`.
    pub fn png(width: u32, height: u32, alpha: bool) -> Vec<u8> {
        let image = if alpha {
            DynamicImage::ImageRgba8(image::RgbaImage::from_pixel(
                width,
                height,
                image::Rgba([10, 200, 30, 128]),
            ))
        } else {
            DynamicImage::ImageRgb8(image::RgbImage::from_fn(width, height, |x, y| {
                image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
            }))
        };
        let mut bytes = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
            .expect("encode");
        bytes
    }

    /// A valid PNG header claiming `width` × `height`, with a tiny (truncated) body.
    pub fn png_bomb(width: u32, height: u32) -> Vec<u8> {
        png_bomb_of(width, height, 8, 2)
    }

    /// [`png_bomb`] with this bit depth and PNG colour type (2 RGB, 6 RGBA).
    pub fn png_bomb_of(width: u32, height: u32, depth: u8, colour: u8) -> Vec<u8> {
        let mut bytes = png(1, 1, false);
        bytes[24] = depth;
        bytes[25] = colour;
        // IHDR starts at byte 16: width and height, big-endian; fix the chunk's CRC after.
        bytes[16..20].copy_from_slice(&width.to_be_bytes());
        bytes[20..24].copy_from_slice(&height.to_be_bytes());
        let crc = crc32(&bytes[12..29]);
        bytes[29..33].copy_from_slice(&crc.to_be_bytes());
        bytes
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xffff_ffffu32;
        for &byte in data {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xedb8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn a_png_gets_its_size_and_a_jpeg_thumbnail_within_320() {
        let found = inspect(&png(1200, 900, false), ImageBounds::default()).expect("accepted");
        assert_eq!(found.mime, "image/png");
        assert_eq!(found.dimensions, Some((1200, 900)));
        let thumb = found.thumbnail.expect("thumbnail");
        assert_eq!(thumb.mime, "image/jpeg");
        let small = image::load_from_memory(&thumb.bytes).expect("decodes");
        assert_eq!((small.width(), small.height()), (320, 240));
    }

    #[test]
    fn transparency_keeps_a_png_thumbnail() {
        let found = inspect(&png(40, 600, true), ImageBounds::default()).expect("accepted");
        let thumb = found.thumbnail.expect("thumbnail");
        assert_eq!(thumb.mime, "image/png");
        let small = image::load_from_memory(&thumb.bytes).expect("decodes");
        assert_eq!(small.height(), 320);
    }

    #[test]
    fn a_bomb_is_refused_from_its_header() {
        let bomb = png_bomb(100_000, 100_000);
        assert_eq!(mime_of(&bomb), "image/png");
        assert_eq!(
            inspect(&bomb, ImageBounds::default()),
            Err(Refused::TooManyPixels {
                width: 100_000,
                height: 100_000,
                max: 50_000_000
            })
        );
    }

    #[test]
    fn an_image_too_big_to_decode_in_memory_is_refused_from_its_header() {
        // 49 million pixels (under the pixel limit) of 16-bit RGBA: 392 MB decoded.
        let bomb = png_bomb_of(7000, 7000, 16, 6);
        assert_eq!(
            inspect(&bomb, ImageBounds::default()),
            Err(Refused::TooManyBytes {
                width: 7000,
                height: 7000,
                bytes: 7000 * 7000 * 8,
                max: 200 * 1024 * 1024
            })
        );
        // The same pixels in 8-bit RGB fit (and, truncated, are kept as a plain file).
        let found = inspect(&png_bomb_of(7000, 7000, 8, 2), ImageBounds::default()).expect("kept");
        assert_eq!(found.thumbnail, None);
    }

    #[test]
    fn a_gif_claiming_a_huge_screen_is_refused() {
        let mut gif = Vec::new();
        DynamicImage::ImageRgba8(image::RgbaImage::new(2, 2))
            .write_to(&mut Cursor::new(&mut gif), ImageFormat::Gif)
            .expect("encode");
        // The logical screen's width and height, little-endian, right after `GIF89a`.
        gif[6..10].copy_from_slice(&[0xff, 0xff, 0xff, 0xff]);
        assert!(matches!(
            inspect(&gif, ImageBounds::default()),
            Err(Refused::TooManyPixels { .. } | Refused::OverLimits(_))
        ));
    }

    #[test]
    fn an_image_that_does_not_decode_is_a_plain_file() {
        let mut broken = png(64, 64, false);
        broken.truncate(40);
        let found = inspect(&broken, ImageBounds::default()).expect("kept");
        assert_eq!(found.mime, "image/png");
        assert_eq!((found.dimensions, found.thumbnail), (None, None));
    }

    #[test]
    fn types_come_from_the_bytes() {
        assert_eq!(mime_of(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"), "application/pdf");
        assert_eq!(
            mime_of(b"<svg xmlns=\"http://www.w3.org/2000/svg\"></svg>"),
            "image/svg+xml"
        );
        assert_eq!(
            mime_of(b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"/>"),
            "image/svg+xml"
        );
        assert_eq!(mime_of(b"<html><script>alert(1)</script>"), "text/html");
        assert_eq!(mime_of(b"just some notes\n"), "text/plain");
        assert_eq!(mime_of(&[0, 159, 146, 150]), "application/octet-stream");
        assert!(is_raster("image/webp") && !is_raster("image/svg+xml"));
    }
}
