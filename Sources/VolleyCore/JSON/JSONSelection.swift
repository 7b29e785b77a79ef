/// The parts of a JSON document to build when parsing it; everything else is checked just
/// as strictly and skipped without allocating. For reading a few fields out of a large
/// response (an LLM reply's text and usage) without building the rest.
public indirect enum JSONSelection: Sendable {
    /// The whole value.
    case all
    /// In an object, only these members, each under its own selection. In an array, every
    /// element under this same selection. A scalar is kept as it is.
    case members([String: JSONSelection])
}
