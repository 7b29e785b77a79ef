/// A batch's scheduling class: interactive batches are always served first.
public enum Priority: String, Sendable, Hashable, CaseIterable {
    case interactive
    case background
}
