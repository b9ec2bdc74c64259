//! Text-to-speech adapters behind [`TextToSpeech`](switchboard_core::ports::TextToSpeech):
//! Amazon Polly (the AWS default), ElevenLabs (a workspace's own account) and espeak-ng
//! (offline, the local default). All answer WAV: 16-bit mono PCM, so what plays one plays the
//! others.

pub mod elevenlabs;
pub mod offline;
pub mod polly;

/// 16-bit little-endian mono PCM at `rate` samples a second, as a WAV file.
pub fn wav(pcm: &[u8], rate: u32) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut out = std::io::Cursor::new(Vec::with_capacity(pcm.len() + 44));
    {
        let mut writer = hound::WavWriter::new(&mut out, spec).expect("a WAV header writes to memory");
        for sample in pcm.chunks_exact(2) {
            writer
                .write_sample(i16::from_le_bytes([sample[0], sample[1]]))
                .expect("samples write to memory");
        }
        writer.finalize().expect("a WAV file finishes in memory");
    }
    out.into_inner()
}

#[cfg(test)]
mod tests {
    #[test]
    fn pcm_becomes_a_wav_file_of_its_length() {
        let pcm: Vec<u8> = (0..16_000i16).flat_map(|s| (s % 100).to_le_bytes()).collect();
        let reader = hound::WavReader::new(std::io::Cursor::new(super::wav(&pcm, 16_000))).unwrap();
        assert_eq!((reader.spec().sample_rate, reader.spec().channels), (16_000, 1));
        assert_eq!(reader.duration(), 16_000, "one second");
    }
}
