import VolleyCore

/// `volley run --dry-run`: reads every line as a run would, sends nothing, writes nothing, and
/// prints the lines and their estimated cost: the inputs alone (the floor), with every answer
/// at half its `max_tokens`, and with every answer at its `max_tokens` (the ceiling a
/// `--max-cost` reserves). Lines whose model has no price are counted apart, never guessed.
enum DryRun {
    struct Estimate: Sendable, Equatable {
        var lines = 0
        var invalid = 0
        var unpriced = 0
        var inputUSD = 0.0
        var outputUSD = 0.0
        var inputTokens = 0
        var outputTokens = 0
    }

    static func run(_ options: RunOptions, providers: ProviderSet, pricing: Pricing, console: RunConsole) -> RunReport {
        let reader: LineReader
        do {
            reader = try LineReader(path: options.inputPath, maxLineBytes: options.maxLineBytes)
        } catch {
            console.write("volley run: \(error.message)\n")
            return RunReport(exitCode: 2, error: error.message)
        }
        var estimate = Estimate()
        let defaults = LineDefaults(model: options.model, timeoutSeconds: options.timeoutSeconds)
        var number = 0
        do {
            while let line = try reader.next() {
                number += 1
                guard case .line(let bytes) = line else {
                    estimate.lines += 1
                    estimate.invalid += 1
                    continue
                }
                add(LineDecoder.decode(bytes, line: number, defaults: defaults), providers: providers, pricing: pricing, to: &estimate)
            }
        } catch {
            console.write("volley run: \(error.message)\n")
            return RunReport(exitCode: 1, error: error.message)
        }
        console.write(text(estimate, pricing: pricing))
        return RunReport(exitCode: 0)
    }

    static func add(_ decoded: DecodedLine, providers: ProviderSet, pricing: Pricing, to estimate: inout Estimate) {
        switch decoded {
        case .blank:
            return
        case .invalid:
            estimate.lines += 1
            estimate.invalid += 1
        case .item(_, let value, _):
            estimate.lines += 1
            guard case .success(let item) = Item.parse(value) else {
                estimate.invalid += 1
                return
            }
            // No provider configured yet (no key in this shell): the model's list price still says
            // what the file would cost.
            let price: ModelPrice?
            switch providers.resolve(item.provider) {
            case .success(let config): price = config.price(of: item.model, pricing: pricing)
            case .failure: price = item.model.flatMap(pricing.price(of:))
            }
            guard let price else {
                estimate.unpriced += 1
                return
            }
            let tokens = TokenEstimate.estimate(for: item.request, endpoint: item.endpoint)
            estimate.inputTokens += tokens.input
            estimate.outputTokens += tokens.output
            // A per-call fee is paid however short the answer: it goes with the input.
            estimate.inputUSD += price.cost(Usage(inputTokens: tokens.input, outputTokens: 0))
            estimate.outputUSD += price.cost(Usage(inputTokens: 0, outputTokens: tokens.output)) - price.perRequest
        }
    }

    static func text(_ estimate: Estimate, pricing: Pricing) -> String {
        func dollars(_ value: Double) -> String {
            let cents = Int((value * 10_000).rounded())
            let fraction = String(cents % 10_000)
            return "$\(cents / 10_000)." + String(repeating: "0", count: 4 - fraction.count) + fraction
        }
        var lines = ["volley run --dry-run: nothing sent",
                     "  lines:     \(estimate.lines) (\(estimate.invalid) that cannot run, \(estimate.unpriced) whose model has no price)",
                     "  tokens:    ~\(estimate.inputTokens) in, up to \(estimate.outputTokens) out (max_tokens)"]
        lines.append("  cost:      at least \(dollars(estimate.inputUSD)) (inputs alone), ~\(dollars(estimate.inputUSD + estimate.outputUSD / 2))"
            + " (answers at half their max_tokens), at most \(dollars(estimate.inputUSD + estimate.outputUSD)) (every answer at its max_tokens)")
        lines.append("  prices:    \(pricing.date.map { "table of \($0)" } ?? "no dated table"); estimates are characters / 4")
        return lines.joined(separator: "\n") + "\n"
    }
}
