namespace Kiln.Data;

/// <summary>Why a sample was skipped. Each is counted separately in <see cref="DataHealth"/>.</summary>
public enum BadSampleReason
{
    /// <summary>The decoder rejected the bytes (zero bytes, random bytes, unknown format, decoder error, a JPEG variant it cannot decode such as 12-bit).</summary>
    CorruptImage,
    /// <summary>The image ended early ("premature end of data").</summary>
    TruncatedImage,
    /// <summary>The header declares absurd dimensions (a decompression bomb); refused before decoding.</summary>
    ImageTooLarge,
    /// <summary>A sample with a label but no image member.</summary>
    MissingImage,
    /// <summary>A sample with an image but no <c>.cls</c> member.</summary>
    MissingLabel,
    /// <summary>The <c>.cls</c> member is not an ASCII integer.</summary>
    UnreadableLabel,
    /// <summary>The label is outside [0, number of classes).</summary>
    LabelOutOfRange,
    /// <summary>The key appeared earlier in the shard, or one sample has two members with the same extension.</summary>
    DuplicateKey,
    /// <summary>A member is larger than the configured cap; it is not read.</summary>
    MemberTooLarge,
    /// <summary>The shard ends early or has a corrupt tar header; the rest of the shard is skipped.</summary>
    TruncatedShard,
}
