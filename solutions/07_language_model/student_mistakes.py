"""Mistakes students plausibly make that nobody listed in mistakes.py: sampling with temperature
and top-k, beam search, a truncated-BPTT training pass with clipping, and a many-to-one head on a
padded batch.

Each entry replaces ``find`` (text that occurs once in the part's solution cell) by ``replace``;
``what`` says, in the student's terms, what went wrong. An entry with ``uncaught`` is one the
checker does not catch; its value is an input on which the result really differs.
"""

MISTAKES = {
    "sample_next": {
        "softmax_over_batch": {
            "find": "torch.softmax(logits / temperature, dim=-1)",
            "replace": "torch.softmax(logits / temperature, dim=0)",
            "what": "Took the softmax over the batch axis instead of the vocabulary.",
            "expect": "the softmax was taken over the batch axis",
        },
        "kth_itself_masked": {
            "find": "logits < kth_largest",
            "replace": "logits <= kth_largest",
            "what": "Masked with <=, which also removes the k-th largest logit and keeps k - 1.",
            "expect": "k - 1 tokens were kept",
        },
        "temperature_on_probs": {
            "find": "torch.softmax(logits / temperature, dim=-1)",
            "replace": "torch.softmax(logits, dim=-1) / temperature",
            "what": "Divided the probabilities by the temperature after the softmax, which "
                    "multinomial normalises away, so the temperature has no effect.",
            "expect": "applied to the probabilities after the softmax",
        },
    },
    "beam_search": {
        "per_beam_pruning": {
            "find": "            for token in range(log_P.shape[1]):\n"
                    "                candidates.append((tokens + [token], score + float(log_P[tokens[-1], token])))\n"
                    "        candidates.sort(key=lambda candidate: candidate[1], reverse=True)\n",
            "replace": "            children = [(tokens + [token], score + float(log_P[tokens[-1], token]))\n"
                       "                        for token in range(log_P.shape[1])]\n"
                       "            children.sort(key=lambda candidate: candidate[1], reverse=True)\n"
                       "            candidates += children[:beam_width]\n",
            "what": "Pruned each beam's children to its own top beam_width and then took the "
                    "first beam_width of the concatenation, instead of a global top-k over all "
                    "candidates.",
            "expect": "sort all candidates of all beams together",
        },
        "sorted_ascending": {
            "find": "candidates.sort(key=lambda candidate: candidate[1], reverse=True)",
            "replace": "candidates.sort(key=lambda candidate: candidate[1])",
            "what": "Forgot reverse=True, so the beams kept are the least likely candidates.",
            "expect": "the least likely beams were kept",
        },
        "table_transposed": {
            "find": "log_P[tokens[-1], token]",
            "replace": "log_P[token, tokens[-1]]",
            "what": "Indexed the bigram table as log_P[next, last] instead of log_P[last, next].",
            "expect": "the bigram table was read transposed",
        },
        "aliased_token_list": {
            "find": "                candidates.append((tokens + [token], score + float(log_P[tokens[-1], token])))\n",
            "replace": "                new_score = score + float(log_P[tokens[-1], token])\n"
                       "                new_tokens = tokens\n"
                       "                new_tokens.append(token)\n"
                       "                candidates.append((new_tokens, new_score))\n",
            "what": "Extended the hypothesis with new_tokens = tokens; new_tokens.append(token), "
                    "which mutates one shared list instead of making a copy.",
            "expect": "the hypotheses share one token list",
        },
    },
    "tbptt_epoch": {
        "last_partial_chunk_dropped": {
            "find": "for start in range(0, x.shape[1], chunk_len):",
            "replace": "for start in range(0, x.shape[1] - chunk_len + 1, chunk_len):",
            "what": "Only made full-length chunks, silently skipping a shorter last chunk.",
            "expect": "the short last chunk was skipped",
        },
        "update_rebinds_p": {
            "find": "p -= lr * p.grad",
            "replace": "p = p - lr * p.grad",
            "what": "Wrote p = p - lr * p.grad, which rebinds the loop variable and never "
                    "changes the parameters.",
            "expect": "the parameters were never updated",
        },
        "clip_before_backward": {
            "find": "        loss.backward()\n"
                    "        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)\n",
            "replace": "        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)\n"
                       "        loss.backward()\n",
            "what": "Clipped before backward(), when the gradients are still zero, so the update "
                    "is not clipped at all.",
            "expect": "clipped after the weight update (or not at all)",
        },
    },
    "many_to_one_logits": {
        "clamped_index": {
            "find": "outputs[batch, lengths - 1]",
            "replace": "outputs[batch, lengths.clamp(max=x.shape[1] - 1)]",
            "what": "Indexed with lengths and clamped it to silence the out-of-bounds error, so "
                    "every shorter sequence reads the first padded step.",
            "expect": "the step at index lengths[b] was read",
        },
        "gather_without_expand": {
            "find": "head(outputs[batch, lengths - 1])",
            "replace": "head(outputs.gather(1, (lengths - 1).view(-1, 1, 1)).squeeze(1))",
            "what": "Used gather with a (B, 1, 1) index without expanding it over the features, "
                    "so only the first feature of each step is kept.",
            "expect": "picks only feature 0",
        },
    },
}
