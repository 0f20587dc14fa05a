//! Bytes from Redis as another node (or anyone who can publish there) might put them:
//! decoding never panics, and whatever decodes encodes back to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mentorhub::bus::codec;

fuzz_target!(|data: &[u8]| {
    let Ok((wire, _sent_at)) = codec::decode_sent_at(data) else {
        return;
    };
    let again = codec::encode(&wire);
    let (decoded, sent_at) = codec::decode_sent_at(&again).expect("an encoded message decodes");
    assert_eq!(format!("{wire:?}"), format!("{decoded:?}"));
    assert!(sent_at.is_some());
});
