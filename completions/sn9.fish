# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_sn9_global_optspecs
    string join \n json q/quiet v/verbose config= h/help V/version
end

function __fish_sn9_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_sn9_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_sn9_using_subcommand
    set -l cmd (__fish_sn9_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c sn9 -n "__fish_sn9_needs_command" -l config -d 'sn9\'s settings file (TOML, one [section] per command: `[score]`, `[train]`, ...). Every command takes it; `--config` means nothing else anywhere' -r -F
complete -c sn9 -n "__fish_sn9_needs_command" -l json -d 'Machine-readable output on stdout (JSON; JSON Lines for streams)'
complete -c sn9 -n "__fish_sn9_needs_command" -s q -l quiet -d 'Only errors on stderr'
complete -c sn9 -n "__fish_sn9_needs_command" -s v -l verbose -d 'More detail on stderr'
complete -c sn9 -n "__fish_sn9_needs_command" -s h -l help -d 'Print help'
complete -c sn9 -n "__fish_sn9_needs_command" -s V -l version -d 'Print version'
complete -c sn9 -n "__fish_sn9_needs_command" -f -a "competitions" -d 'Show the competition schedule: ids, reward shares, model constraints, epsilon, tasks'
complete -c sn9 -n "__fish_sn9_needs_command" -f -a "score" -d 'Score a round: evaluation results + previous state → new state and weights, exactly as the reference validator computes them'
complete -c sn9 -n "__fish_sn9_needs_command" -f -a "hub" -d 'Hugging Face side: directory and secure hashes, push and pull of models at pinned commits (the Hub, a local hub or a fake)'
complete -c sn9 -n "__fish_sn9_needs_command" -f -a "chain" -d 'Chain side: metadata commitments, metagraph, blocks, weights; a subtensor node or a local chain (`--network file://DIR`)'
complete -c sn9 -n "__fish_sn9_needs_command" -f -a "data" -d 'Data: the validator\'s evaluation data for a block (text and speech), and the miner\'s side: fetch, mix, pack'
complete -c sn9 -n "__fish_sn9_needs_command" -f -a "eval" -d 'Evaluate models on sampled batches: the validator\'s per-task loss with its sanity gate, or the TTS competition\'s word error rate, as JSON Lines for `sn9 score`'
complete -c sn9 -n "__fish_sn9_needs_command" -f -a "eval-worker" -d 'Evaluate one model in an isolated process (used by `sn9 eval --time-limit-s`)'
complete -c sn9 -n "__fish_sn9_needs_command" -f -a "train" -d 'Pretrain a Llama-family model on token shards: AdamW, schedules, validation, resumable checkpoints; writes a Hugging Face model directory'
complete -c sn9 -n "__fish_sn9_needs_command" -f -a "tts" -d 'Text to speech: synthesise with a miner\'s E2TTS model as the validator does'
complete -c sn9 -n "__fish_sn9_needs_command" -f -a "model" -d 'Models: init, info (parameter count, competition fit), generate, forward, convert'
complete -c sn9 -n "__fish_sn9_needs_command" -f -a "validate" -d 'One validator round for cron: sync, choose models, download, evaluate, score, set weights; resumable, locked, pruned'
complete -c sn9 -n "__fish_sn9_needs_command" -f -a "wallet" -d 'Wallets in bittensor\'s format: show addresses, create keys'
complete -c sn9 -n "__fish_sn9_needs_command" -f -a "device" -d 'Show the compute backends compiled in and check that a device works'
complete -c sn9 -n "__fish_sn9_needs_command" -f -a "completions" -d 'Print a shell completion script (bash, zsh or fish) on stdout'
complete -c sn9 -n "__fish_sn9_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c sn9 -n "__fish_sn9_using_subcommand competitions" -l block -d 'Show the competitions in force at this block [default: the whole schedule]' -r
complete -c sn9 -n "__fish_sn9_using_subcommand competitions" -l schedule -d 'Competition schedule (JSON) [default: built-in Subnet 9 schedule]' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand competitions" -l config -d 'sn9\'s settings file (TOML, one [section] per command: `[score]`, `[train]`, ...). Every command takes it; `--config` means nothing else anywhere' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand competitions" -l all -d 'With --json, print the whole schedule (every entry) even when --block is given'
complete -c sn9 -n "__fish_sn9_using_subcommand competitions" -l json -d 'Machine-readable output on stdout (JSON; JSON Lines for streams)'
complete -c sn9 -n "__fish_sn9_using_subcommand competitions" -s q -l quiet -d 'Only errors on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand competitions" -s v -l verbose -d 'More detail on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand competitions" -s h -l help -d 'Print help'
complete -c sn9 -n "__fish_sn9_using_subcommand score" -l block -d 'Current block: epsilon decay and the competition schedule are taken at this block [default: the rows\' `eval_block`]' -r
complete -c sn9 -n "__fish_sn9_using_subcommand score" -l state -d 'Scoring state carried between rounds (EMA weights, history); read if it exists, then replaced atomically [default: none, a fresh state that is not saved]' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand score" -l neurons -d 'Number of neurons in the metagraph (length of the weight vector, at most 65536: uids are u16) [default: the state\'s, or the largest uid + 1]' -r
complete -c sn9 -n "__fish_sn9_using_subcommand score" -l schedule -d 'Competition schedule (JSON, as `sn9 competitions --all --json` prints) [default: built-in Subnet 9 schedule]' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand score" -l netuid -d 'Subnet the weights are for (recorded in the weights document) [default: 9]' -r
complete -c sn9 -n "__fish_sn9_using_subcommand score" -l out -d 'Also write the weights document (JSON) to this file (the input of `sn9 chain weights set`)' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand score" -l config -d 'sn9\'s settings file (TOML, one [section] per command: `[score]`, `[train]`, ...). Every command takes it; `--config` means nothing else anywhere' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand score" -l no-save -d 'Do not write the state back'
complete -c sn9 -n "__fish_sn9_using_subcommand score" -l explain -d 'Explain each uid\'s weight: competitive or beaten by whom, epsilon, wins, win rate'
complete -c sn9 -n "__fish_sn9_using_subcommand score" -l csv -d 'Write the weights as CSV (uid, weight, u16) instead of a table'
complete -c sn9 -n "__fish_sn9_using_subcommand score" -l json -d 'Machine-readable output on stdout (JSON; JSON Lines for streams)'
complete -c sn9 -n "__fish_sn9_using_subcommand score" -s q -l quiet -d 'Only errors on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand score" -s v -l verbose -d 'More detail on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand score" -s h -l help -d 'Print help'
complete -c sn9 -n "__fish_sn9_using_subcommand hub; and not __fish_seen_subcommand_from hash pull push help" -l config -d 'sn9\'s settings file (TOML, one [section] per command: `[score]`, `[train]`, ...). Every command takes it; `--config` means nothing else anywhere' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand hub; and not __fish_seen_subcommand_from hash pull push help" -l json -d 'Machine-readable output on stdout (JSON; JSON Lines for streams)'
complete -c sn9 -n "__fish_sn9_using_subcommand hub; and not __fish_seen_subcommand_from hash pull push help" -s q -l quiet -d 'Only errors on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand hub; and not __fish_seen_subcommand_from hash pull push help" -s v -l verbose -d 'More detail on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand hub; and not __fish_seen_subcommand_from hash pull push help" -s h -l help -d 'Print help'
complete -c sn9 -n "__fish_sn9_using_subcommand hub; and not __fish_seen_subcommand_from hash pull push help" -f -a "hash" -d 'Hash a model directory the way validators do, and bind it to a hotkey'
complete -c sn9 -n "__fish_sn9_using_subcommand hub; and not __fish_seen_subcommand_from hash pull push help" -f -a "pull" -d 'Download a model at a pinned commit into the Hugging Face cache (only the files validators load: config, safetensors, index, tokenizer; never pickles or code), verify it, and print its directory'
complete -c sn9 -n "__fish_sn9_using_subcommand hub; and not __fish_seen_subcommand_from hash pull push help" -f -a "push" -d 'Commit a model directory to a hub repository (created if needed; large files through Git LFS; unchanged files are not uploaded again) and print the commit and the hashes for the chain commitment'
complete -c sn9 -n "__fish_sn9_using_subcommand hub; and not __fish_seen_subcommand_from hash pull push help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c sn9 -n "__fish_sn9_using_subcommand hub; and __fish_seen_subcommand_from hash" -l hotkey -d 'The miner\'s hotkey (SS58 address) to bind the hash to' -r
complete -c sn9 -n "__fish_sn9_using_subcommand hub; and __fish_seen_subcommand_from hash" -l config -d 'sn9\'s settings file (TOML, one [section] per command: `[score]`, `[train]`, ...). Every command takes it; `--config` means nothing else anywhere' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand hub; and __fish_seen_subcommand_from hash" -l files -d 'Also list each file\'s hash'
complete -c sn9 -n "__fish_sn9_using_subcommand hub; and __fish_seen_subcommand_from hash" -l json -d 'Machine-readable output on stdout (JSON; JSON Lines for streams)'
complete -c sn9 -n "__fish_sn9_using_subcommand hub; and __fish_seen_subcommand_from hash" -s q -l quiet -d 'Only errors on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand hub; and __fish_seen_subcommand_from hash" -s v -l verbose -d 'More detail on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand hub; and __fish_seen_subcommand_from hash" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sn9 -n "__fish_sn9_using_subcommand hub; and __fish_seen_subcommand_from pull" -l revision -d 'The commit (full 40-hex sha) to download, as committed on chain' -r
complete -c sn9 -n "__fish_sn9_using_subcommand hub; and __fish_seen_subcommand_from pull" -l hub -d 'Hub: https://huggingface.co (or a mirror), or file://DIR for a local hub [default: $HF_ENDPOINT, else https://huggingface.co]' -r
complete -c sn9 -n "__fish_sn9_using_subcommand hub; and __fish_seen_subcommand_from pull" -l retries -d 'Retries of a failed request after the first try (connection errors, timeouts, cut transfers, HTTP 5xx and 429); a 4xx answer is final' -r
complete -c sn9 -n "__fish_sn9_using_subcommand hub; and __fish_seen_subcommand_from pull" -l backoff-ms -d 'Pause before the first retry in milliseconds; it doubles per retry, up to 30 s' -r
complete -c sn9 -n "__fish_sn9_using_subcommand hub; and __fish_seen_subcommand_from pull" -l deadline-s -d 'Give up when the next retry would start more than this many seconds after the command began [default: no limit beyond the retries]' -r
complete -c sn9 -n "__fish_sn9_using_subcommand hub; and __fish_seen_subcommand_from pull" -l out -d 'Also copy the files (not links) into this directory' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand hub; and __fish_seen_subcommand_from pull" -l cache-dir -d 'Cache directory [default: $HF_HUB_CACHE, $HF_HOME/hub, ~/.cache/huggingface/hub]' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand hub; and __fish_seen_subcommand_from pull" -l competition -d 'Refuse, before downloading, a repository larger than this competition allows' -r
complete -c sn9 -n "__fish_sn9_using_subcommand hub; and __fish_seen_subcommand_from pull" -l schedule -d 'Competition schedule (JSON) [default: built-in]' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand hub; and __fish_seen_subcommand_from pull" -l expect-hash -d 'The hash the download must have: the secure hash from the chain (with --hotkey) or the directory hash' -r
complete -c sn9 -n "__fish_sn9_using_subcommand hub; and __fish_seen_subcommand_from pull" -l hotkey -d 'The miner\'s hotkey (SS58) the secure hash is bound to' -r
complete -c sn9 -n "__fish_sn9_using_subcommand hub; and __fish_seen_subcommand_from pull" -l config -d 'sn9\'s settings file (TOML, one [section] per command: `[score]`, `[train]`, ...). Every command takes it; `--config` means nothing else anywhere' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand hub; and __fish_seen_subcommand_from pull" -l json -d 'Machine-readable output on stdout (JSON; JSON Lines for streams)'
complete -c sn9 -n "__fish_sn9_using_subcommand hub; and __fish_seen_subcommand_from pull" -s q -l quiet -d 'Only errors on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand hub; and __fish_seen_subcommand_from pull" -s v -l verbose -d 'More detail on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand hub; and __fish_seen_subcommand_from pull" -s h -l help -d 'Print help'
complete -c sn9 -n "__fish_sn9_using_subcommand hub; and __fish_seen_subcommand_from push" -l hub -d 'Hub: https://huggingface.co (or a mirror), or file://DIR for a local hub [default: $HF_ENDPOINT, else https://huggingface.co]' -r
complete -c sn9 -n "__fish_sn9_using_subcommand hub; and __fish_seen_subcommand_from push" -l retries -d 'Retries of a failed request after the first try (connection errors, timeouts, cut transfers, HTTP 5xx and 429); a 4xx answer is final' -r
complete -c sn9 -n "__fish_sn9_using_subcommand hub; and __fish_seen_subcommand_from push" -l backoff-ms -d 'Pause before the first retry in milliseconds; it doubles per retry, up to 30 s' -r
complete -c sn9 -n "__fish_sn9_using_subcommand hub; and __fish_seen_subcommand_from push" -l deadline-s -d 'Give up when the next retry would start more than this many seconds after the command began [default: no limit beyond the retries]' -r
complete -c sn9 -n "__fish_sn9_using_subcommand hub; and __fish_seen_subcommand_from push" -l message -d 'Commit message' -r
complete -c sn9 -n "__fish_sn9_using_subcommand hub; and __fish_seen_subcommand_from push" -l hotkey -d 'The miner\'s hotkey (SS58): prints the secure hash for the commitment' -r
complete -c sn9 -n "__fish_sn9_using_subcommand hub; and __fish_seen_subcommand_from push" -l competition -d 'Refuse to upload a model this competition would not accept' -r
complete -c sn9 -n "__fish_sn9_using_subcommand hub; and __fish_seen_subcommand_from push" -l schedule -d 'Competition schedule (JSON) [default: built-in]' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand hub; and __fish_seen_subcommand_from push" -l config -d 'sn9\'s settings file (TOML, one [section] per command: `[score]`, `[train]`, ...). Every command takes it; `--config` means nothing else anywhere' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand hub; and __fish_seen_subcommand_from push" -l private -d 'Create the repository private (as the reference miner does)'
complete -c sn9 -n "__fish_sn9_using_subcommand hub; and __fish_seen_subcommand_from push" -l json -d 'Machine-readable output on stdout (JSON; JSON Lines for streams)'
complete -c sn9 -n "__fish_sn9_using_subcommand hub; and __fish_seen_subcommand_from push" -s q -l quiet -d 'Only errors on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand hub; and __fish_seen_subcommand_from push" -s v -l verbose -d 'More detail on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand hub; and __fish_seen_subcommand_from push" -s h -l help -d 'Print help'
complete -c sn9 -n "__fish_sn9_using_subcommand hub; and __fish_seen_subcommand_from help" -f -a "hash" -d 'Hash a model directory the way validators do, and bind it to a hotkey'
complete -c sn9 -n "__fish_sn9_using_subcommand hub; and __fish_seen_subcommand_from help" -f -a "pull" -d 'Download a model at a pinned commit into the Hugging Face cache (only the files validators load: config, safetensors, index, tokenizer; never pickles or code), verify it, and print its directory'
complete -c sn9 -n "__fish_sn9_using_subcommand hub; and __fish_seen_subcommand_from help" -f -a "push" -d 'Commit a model directory to a hub repository (created if needed; large files through Git LFS; unchanged files are not uploaded again) and print the commit and the hashes for the chain commitment'
complete -c sn9 -n "__fish_sn9_using_subcommand hub; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and not __fish_seen_subcommand_from metadata block metagraph commitments commit weights local encode help" -l config -d 'sn9\'s settings file (TOML, one [section] per command: `[score]`, `[train]`, ...). Every command takes it; `--config` means nothing else anywhere' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and not __fish_seen_subcommand_from metadata block metagraph commitments commit weights local encode help" -l json -d 'Machine-readable output on stdout (JSON; JSON Lines for streams)'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and not __fish_seen_subcommand_from metadata block metagraph commitments commit weights local encode help" -s q -l quiet -d 'Only errors on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and not __fish_seen_subcommand_from metadata block metagraph commitments commit weights local encode help" -s v -l verbose -d 'More detail on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and not __fish_seen_subcommand_from metadata block metagraph commitments commit weights local encode help" -s h -l help -d 'Print help'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and not __fish_seen_subcommand_from metadata block metagraph commitments commit weights local encode help" -f -a "metadata" -d 'Build or parse the model metadata a miner commits on chain'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and not __fish_seen_subcommand_from metadata block metagraph commitments commit weights local encode help" -f -a "block" -d 'The head block and its hash (or the hash of block --at N)'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and not __fish_seen_subcommand_from metadata block metagraph commitments commit weights local encode help" -f -a "metagraph" -d 'The subnet\'s neurons: uid, hotkey, coldkey, stake, validator permit, last update'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and not __fish_seen_subcommand_from metadata block metagraph commitments commit weights local encode help" -f -a "commitments" -d 'Every hotkey\'s commitment with its block, parsed as model metadata (invalid ones with the reason)'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and not __fish_seen_subcommand_from metadata block metagraph commitments commit weights local encode help" -f -a "commit" -d 'Commit model metadata (`namespace:name:commit:secure_hash:competition_id`, at most 128 bytes) with the wallet\'s hotkey'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and not __fish_seen_subcommand_from metadata block metagraph commitments commit weights local encode help" -f -a "weights" -d 'Weights on chain'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and not __fish_seen_subcommand_from metadata block metagraph commitments commit weights local encode help" -f -a "local" -d 'The local chain (`--network file://DIR`): create it, register neurons, advance blocks'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and not __fish_seen_subcommand_from metadata block metagraph commitments commit weights local encode help" -f -a "encode" -d 'Encode an extrinsic offline from a runtime\'s metadata: call data and signer payload in hex, and with --sign the signed extrinsic (for air-gapped signing or checking what a node would receive)'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and not __fish_seen_subcommand_from metadata block metagraph commitments commit weights local encode help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from metadata" -l config -d 'sn9\'s settings file (TOML, one [section] per command: `[score]`, `[train]`, ...). Every command takes it; `--config` means nothing else anywhere' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from metadata" -l json -d 'Machine-readable output on stdout (JSON; JSON Lines for streams)'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from metadata" -s q -l quiet -d 'Only errors on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from metadata" -s v -l verbose -d 'More detail on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from metadata" -s h -l help -d 'Print help'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from metadata" -f -a "encode" -d 'Build `namespace:name:commit:secure_hash:competition_id` (checked against the 128-byte limit and the repo id rules) and print it'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from metadata" -f -a "decode" -d 'Parse a commitment string as validators do and print its fields'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from metadata" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from block" -l network -d 'finney, test, local, ws(s)://URL, or file://DIR for a local chain' -r
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from block" -l netuid -d 'Subnet id' -r
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from block" -l genesis -d 'The genesis hash the node must serve (0x + 64 hex; implied for finney): a node of another chain gets nothing signed' -r
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from block" -l at -d 'A past block whose hash to print' -r
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from block" -l config -d 'sn9\'s settings file (TOML, one [section] per command: `[score]`, `[train]`, ...). Every command takes it; `--config` means nothing else anywhere' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from block" -l json -d 'Machine-readable output on stdout (JSON; JSON Lines for streams)'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from block" -s q -l quiet -d 'Only errors on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from block" -s v -l verbose -d 'More detail on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from block" -s h -l help -d 'Print help'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from metagraph" -l network -d 'finney, test, local, ws(s)://URL, or file://DIR for a local chain' -r
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from metagraph" -l netuid -d 'Subnet id' -r
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from metagraph" -l genesis -d 'The genesis hash the node must serve (0x + 64 hex; implied for finney): a node of another chain gets nothing signed' -r
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from metagraph" -l config -d 'sn9\'s settings file (TOML, one [section] per command: `[score]`, `[train]`, ...). Every command takes it; `--config` means nothing else anywhere' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from metagraph" -l csv -d 'CSV instead of a table'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from metagraph" -l json -d 'Machine-readable output on stdout (JSON; JSON Lines for streams)'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from metagraph" -s q -l quiet -d 'Only errors on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from metagraph" -s v -l verbose -d 'More detail on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from metagraph" -s h -l help -d 'Print help'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from commitments" -l network -d 'finney, test, local, ws(s)://URL, or file://DIR for a local chain' -r
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from commitments" -l netuid -d 'Subnet id' -r
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from commitments" -l genesis -d 'The genesis hash the node must serve (0x + 64 hex; implied for finney): a node of another chain gets nothing signed' -r
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from commitments" -l config -d 'sn9\'s settings file (TOML, one [section] per command: `[score]`, `[train]`, ...). Every command takes it; `--config` means nothing else anywhere' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from commitments" -l json -d 'Machine-readable output on stdout (JSON; JSON Lines for streams)'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from commitments" -s q -l quiet -d 'Only errors on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from commitments" -s v -l verbose -d 'More detail on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from commitments" -s h -l help -d 'Print help'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from commit" -l network -d 'finney, test, local, ws(s)://URL, or file://DIR for a local chain' -r
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from commit" -l netuid -d 'Subnet id' -r
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from commit" -l genesis -d 'The genesis hash the node must serve (0x + 64 hex; implied for finney): a node of another chain gets nothing signed' -r
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from commit" -l wallet-path -d 'Wallets directory [default: ~/.bittensor/wallets]' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from commit" -l wallet-name -d 'Wallet (coldkey) name' -r
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from commit" -l wallet-hotkey -d 'Hotkey name' -r
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from commit" -l password-file -d 'Read the key password from this file (else $SN9_WALLET_PASSWORD, else a prompt)' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from commit" -l config -d 'sn9\'s settings file (TOML, one [section] per command: `[score]`, `[train]`, ...). Every command takes it; `--config` means nothing else anywhere' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from commit" -l json -d 'Machine-readable output on stdout (JSON; JSON Lines for streams)'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from commit" -s q -l quiet -d 'Only errors on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from commit" -s v -l verbose -d 'More detail on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from commit" -s h -l help -d 'Print help'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from weights" -l config -d 'sn9\'s settings file (TOML, one [section] per command: `[score]`, `[train]`, ...). Every command takes it; `--config` means nothing else anywhere' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from weights" -l json -d 'Machine-readable output on stdout (JSON; JSON Lines for streams)'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from weights" -s q -l quiet -d 'Only errors on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from weights" -s v -l verbose -d 'More detail on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from weights" -s h -l help -d 'Print help'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from weights" -f -a "set" -d 'Set weights from a weights document (`sn9 score --out FILE`): its u16 uids and weights and version key, signed by the wallet\'s hotkey, after the chain\'s own checks'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from weights" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from local" -l config -d 'sn9\'s settings file (TOML, one [section] per command: `[score]`, `[train]`, ...). Every command takes it; `--config` means nothing else anywhere' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from local" -l json -d 'Machine-readable output on stdout (JSON; JSON Lines for streams)'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from local" -s q -l quiet -d 'Only errors on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from local" -s v -l verbose -d 'More detail on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from local" -s h -l help -d 'Print help'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from local" -f -a "init" -d 'Create a local chain in DIR with one subnet'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from local" -f -a "register" -d 'Register the wallet\'s hotkey on the subnet (the next uid)'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from local" -f -a "advance" -d 'Move the head N blocks on'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from local" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from encode" -l metadata -d 'Runtime metadata (SCALE, V14–V16), e.g. from `state_getMetadata`' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from encode" -l spec-version -d 'The runtime\'s spec version' -r
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from encode" -l transaction-version -d 'The runtime\'s transaction version' -r
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from encode" -l genesis-hash -d 'Genesis hash [default: Finney\'s]' -r
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from encode" -l nonce -d 'The signer\'s account nonce' -r
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from encode" -l era-period -d 'Mortal transaction: valid this many blocks from --era-block (with --era-block-hash)' -r
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from encode" -l era-block -r
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from encode" -l era-block-hash -r
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from encode" -l netuid -d 'Subnet id' -r
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from encode" -l wallet-path -d 'Wallets directory [default: ~/.bittensor/wallets]' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from encode" -l wallet-name -d 'Wallet (coldkey) name' -r
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from encode" -l wallet-hotkey -d 'Hotkey name' -r
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from encode" -l password-file -d 'Read the key password from this file (else $SN9_WALLET_PASSWORD, else a prompt)' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from encode" -l config -d 'sn9\'s settings file (TOML, one [section] per command: `[score]`, `[train]`, ...). Every command takes it; `--config` means nothing else anywhere' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from encode" -l sign -d 'Sign with the wallet\'s hotkey and print the extrinsic'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from encode" -l json -d 'Machine-readable output on stdout (JSON; JSON Lines for streams)'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from encode" -s q -l quiet -d 'Only errors on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from encode" -s v -l verbose -d 'More detail on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from encode" -s h -l help -d 'Print help'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from help" -f -a "metadata" -d 'Build or parse the model metadata a miner commits on chain'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from help" -f -a "block" -d 'The head block and its hash (or the hash of block --at N)'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from help" -f -a "metagraph" -d 'The subnet\'s neurons: uid, hotkey, coldkey, stake, validator permit, last update'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from help" -f -a "commitments" -d 'Every hotkey\'s commitment with its block, parsed as model metadata (invalid ones with the reason)'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from help" -f -a "commit" -d 'Commit model metadata (`namespace:name:commit:secure_hash:competition_id`, at most 128 bytes) with the wallet\'s hotkey'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from help" -f -a "weights" -d 'Weights on chain'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from help" -f -a "local" -d 'The local chain (`--network file://DIR`): create it, register neurons, advance blocks'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from help" -f -a "encode" -d 'Encode an extrinsic offline from a runtime\'s metadata: call data and signer payload in hex, and with --sign the signed extrinsic (for air-gapped signing or checking what a node would receive)'
complete -c sn9 -n "__fish_sn9_using_subcommand chain; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c sn9 -n "__fish_sn9_using_subcommand data; and not __fish_seen_subcommand_from sample pack pack-speech fetch mix help" -l config -d 'sn9\'s settings file (TOML, one [section] per command: `[score]`, `[train]`, ...). Every command takes it; `--config` means nothing else anywhere' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand data; and not __fish_seen_subcommand_from sample pack pack-speech fetch mix help" -l json -d 'Machine-readable output on stdout (JSON; JSON Lines for streams)'
complete -c sn9 -n "__fish_sn9_using_subcommand data; and not __fish_seen_subcommand_from sample pack pack-speech fetch mix help" -s q -l quiet -d 'Only errors on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand data; and not __fish_seen_subcommand_from sample pack pack-speech fetch mix help" -s v -l verbose -d 'More detail on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand data; and not __fish_seen_subcommand_from sample pack pack-speech fetch mix help" -s h -l help -d 'Print help'
complete -c sn9 -n "__fish_sn9_using_subcommand data; and not __fish_seen_subcommand_from sample pack pack-speech fetch mix help" -f -a "sample" -d 'The reference validator\'s evaluation data for a block: pages, tokens and the 50 kept sequences of every task, bit-identical, written as token shards + a record of the pages (for the TTS competition: the People\'s Speech samples, written as speech batches)'
complete -c sn9 -n "__fish_sn9_using_subcommand data; and not __fish_seen_subcommand_from sample pack pack-speech fetch mix help" -f -a "pack" -d 'Tokenize documents (.jsonl with a text field, .parquet, .txt) into token shards, packed as the reference packs them: EOS after each document, fixed windows across documents'
complete -c sn9 -n "__fish_sn9_using_subcommand data; and not __fish_seen_subcommand_from sample pack pack-speech fetch mix help" -f -a "pack-speech" -d 'Make speech batches (the TTS competition\'s evaluation data) from local clips, as the validator\'s People\'s Speech loader makes them from a page of rows: decode, mono, RMS, resample to 24 kHz, skip rules, query pairing, tokens and lengths, shuffle, 50 kept'
complete -c sn9 -n "__fish_sn9_using_subcommand data; and not __fish_seen_subcommand_from sample pack pack-speech fetch mix help" -f -a "fetch" -d 'Download rows of a Hub dataset through the datasets-server into JSON Lines (paged, retried, resumable)'
complete -c sn9 -n "__fish_sn9_using_subcommand data; and not __fish_seen_subcommand_from sample pack pack-speech fetch mix help" -f -a "mix" -d 'Draw a declarative mixture of local corpora (MIX.toml: sources with weights, document or token budgets, a seed) into one JSON Lines or parquet file, deterministically'
complete -c sn9 -n "__fish_sn9_using_subcommand data; and not __fish_seen_subcommand_from sample pack pack-speech fetch mix help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from sample" -l block -d 'Current block (the data is drawn for its sync block, block // 150 * 150)' -r
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from sample" -l block-hash -d 'Hash of the sync block as the chain returns it (0x + 64 hex digits)' -r
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from sample" -l seed -d 'Use this seed (decimal) instead of the block hash (e.g. the reference\'s random fallback)' -r
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from sample" -l competition -d 'Competition whose tasks to sample' -r
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from sample" -l tokenizer -d 'The competition\'s tokenizer: a tokenizer.json or a directory holding one (text competitions; the TTS competition\'s texts stay text)' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from sample" -l eos-id -d 'EOS id [default: the tokenizer_config.json eos token, or <|endoftext|>]' -r
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from sample" -l max-doc-tokens -d 'Per-document truncation [default: 8192 for Xenova/gpt-4 competitions, else the tokenizer_config.json model_max_length]' -r
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from sample" -l seq-len -d 'Sequence length [default: the competition\'s, 4096]' -r
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from sample" -l out -d 'Output directory: token shards + manifest.json, or for the TTS competition speech batches (texts as JSON Lines, 24 kHz clips as float32)' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from sample" -l datasets-server -d 'datasets-server base URL' -r
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from sample" -l timeout-ms -d 'Request timeout in milliseconds (the reference: 15000)' -r
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from sample" -l backoff-ms -d 'Pause after a failed request in milliseconds (the reference: 5000, fixed; its retry count is fixed too, since it decides the pages drawn)' -r
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from sample" -l deadline-s -d 'Stop (exit 2, nothing written) when a retry would start more than this many seconds after the command began: with the datasets-server down the reference\'s retries would take hours' -r
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from sample" -l schedule -d 'Competition schedule (JSON) [default: built-in]' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from sample" -l s3-endpoint -d 'Endpoint of the Software Heritage bucket (Stack v2 contents; needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)' -r
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from sample" -l config -d 'sn9\'s settings file (TOML, one [section] per command: `[score]`, `[train]`, ...). Every command takes it; `--config` means nothing else anywhere' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from sample" -l force -d 'Replace OUT if it exists'
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from sample" -l allow-empty -d 'Write the batches even when every task\'s loader failed (no task then): the reference validator skips such tasks, and with none left scores every loadable model 0 (what `sn9 eval` then does). `sn9 validate` samples with this'
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from sample" -l json -d 'Machine-readable output on stdout (JSON; JSON Lines for streams)'
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from sample" -s q -l quiet -d 'Only errors on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from sample" -s v -l verbose -d 'More detail on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from sample" -s h -l help -d 'Print help'
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from pack" -l tokenizer -d 'Tokenizer: a tokenizer.json or a directory holding one' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from pack" -l eos-id -d 'EOS id [default: from tokenizer_config.json, or <|endoftext|>]' -r
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from pack" -l max-doc-tokens -d 'Per-document truncation [default: none; the subnet\'s evaluation truncates at 8192]' -r
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from pack" -l seq-len -d 'Tokens per sequence' -r
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from pack" -l text-field -d 'JSON field holding the text (`content` is the fallback)' -r
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from pack" -l txt-split -d 'How .txt files split into documents' -r -f -a "file\t'The whole file is one document'
paragraphs\t'Documents are separated by blank lines'
lines\t'Every line is a document'"
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from pack" -l sequences-per-shard -d 'Sequences per shard file' -r
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from pack" -l task -d 'Write one shard named after this evaluation task (e.g. FINEWEB), as `data sample` does, so `sn9 eval` scores it as that task (held-out data for offline evaluation)' -r
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from pack" -l out -d 'Output directory' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from pack" -l config -d 'sn9\'s settings file (TOML, one [section] per command: `[score]`, `[train]`, ...). Every command takes it; `--config` means nothing else anywhere' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from pack" -l force -d 'Replace OUT if it exists'
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from pack" -l json -d 'Machine-readable output on stdout (JSON; JSON Lines for streams)'
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from pack" -s q -l quiet -d 'Only errors on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from pack" -s v -l verbose -d 'More detail on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from pack" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from pack-speech" -l seed -d 'Seed of the query pairing and the shuffle (a decimal integer of any size); `sn9 eval` also draws the sampler\'s noise from it' -r
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from pack-speech" -l task -d 'Task name the batches are scored as' -r
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from pack-speech" -l out -d 'Output directory (speech batches)' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from pack-speech" -l config -d 'sn9\'s settings file (TOML, one [section] per command: `[score]`, `[train]`, ...). Every command takes it; `--config` means nothing else anywhere' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from pack-speech" -l force -d 'Replace OUT if it exists'
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from pack-speech" -l json -d 'Machine-readable output on stdout (JSON; JSON Lines for streams)'
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from pack-speech" -s q -l quiet -d 'Only errors on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from pack-speech" -s v -l verbose -d 'More detail on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from pack-speech" -s h -l help -d 'Print help'
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from fetch" -l dataset -d 'Dataset repo id, e.g. HuggingFaceFW/fineweb (rows through the datasets-server)' -r
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from fetch" -l hub-dataset -d 'Or: a Hub dataset\'s parquet shards at --revision, downloaded into the Hugging Face cache (resumed, verified) and read for their text column' -r
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from fetch" -l revision -d 'Revision of --hub-dataset: a commit sha to pin, or a branch (the commit it resolves to is printed)' -r
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from fetch" -l files -d 'Which parquet files of --hub-dataset (globs over repository paths)' -r
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from fetch" -l hub -d 'Hub for --hub-dataset: https://huggingface.co (or a mirror), or file://DIR [default: $HF_ENDPOINT, else https://huggingface.co]' -r
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from fetch" -l cache-dir -d 'Cache for --hub-dataset [default: $HF_HUB_CACHE, $HF_HOME/hub, ~/.cache/huggingface/hub]' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from fetch" -l from -d 'Local files instead (.jsonl, .parquet, .txt): their documents as `{"text", "source"}` rows, unusable ones counted and left out' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from fetch" -l text-field -d 'Field or column holding the text of --from files (`content` is the fallback)' -r
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from fetch" -l txt-split -d 'How --from .txt files split into documents' -r -f -a "file\t'The whole file is one document'
paragraphs\t'Documents are separated by blank lines'
lines\t'Every line is a document'"
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from fetch" -l subset -d 'Subset name (the datasets-server\'s `config`)' -r
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from fetch" -l split -d 'Split' -r
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from fetch" -l offset -d 'First row' -r
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from fetch" -l rows -d 'Number of rows (with --hub-dataset: at most this many, default all)' -r
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from fetch" -l page-size -d 'Rows per request (the server allows at most 100)' -r
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from fetch" -l out -d 'Output: JSON Lines (an existing file is continued: resume), or .parquet (written when complete; the rows are gathered, resumably, in a hidden JSON Lines file beside it)' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from fetch" -l datasets-server -d 'datasets-server base URL' -r
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from fetch" -l retries -d 'Retries of a failed request after the first try (connection errors, timeouts, cut transfers, HTTP 5xx and 429); a 4xx answer is final' -r
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from fetch" -l backoff-ms -d 'Pause before the first retry in milliseconds; it doubles per retry, up to 30 s' -r
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from fetch" -l deadline-s -d 'Give up when the next retry would start more than this many seconds after the command began [default: no limit beyond the retries]' -r
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from fetch" -l timeout-ms -d 'Request timeout in milliseconds' -r
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from fetch" -l config -d 'sn9\'s settings file (TOML, one [section] per command: `[score]`, `[train]`, ...). Every command takes it; `--config` means nothing else anywhere' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from fetch" -l auth -d 'Send HF_TOKEN (gated datasets)'
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from fetch" -l json -d 'Machine-readable output on stdout (JSON; JSON Lines for streams)'
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from fetch" -s q -l quiet -d 'Only errors on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from fetch" -s v -l verbose -d 'More detail on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from fetch" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from mix" -l out -d 'Output: .parquet, else JSON Lines (`{"text", "source"}` per line)' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from mix" -l tokenizer -d 'Tokenizer for token budgets and token counts: a tokenizer.json or a directory holding one' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from mix" -l documents -d 'The mix\'s size in documents, instead of the file\'s `documents`' -r
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from mix" -l config -d 'sn9\'s settings file (TOML, one [section] per command: `[score]`, `[train]`, ...). Every command takes it; `--config` means nothing else anywhere' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from mix" -l force -d 'Replace OUT if it exists'
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from mix" -l json -d 'Machine-readable output on stdout (JSON; JSON Lines for streams)'
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from mix" -s q -l quiet -d 'Only errors on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from mix" -s v -l verbose -d 'More detail on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from mix" -s h -l help -d 'Print help'
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from help" -f -a "sample" -d 'The reference validator\'s evaluation data for a block: pages, tokens and the 50 kept sequences of every task, bit-identical, written as token shards + a record of the pages (for the TTS competition: the People\'s Speech samples, written as speech batches)'
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from help" -f -a "pack" -d 'Tokenize documents (.jsonl with a text field, .parquet, .txt) into token shards, packed as the reference packs them: EOS after each document, fixed windows across documents'
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from help" -f -a "pack-speech" -d 'Make speech batches (the TTS competition\'s evaluation data) from local clips, as the validator\'s People\'s Speech loader makes them from a page of rows: decode, mono, RMS, resample to 24 kHz, skip rules, query pairing, tokens and lengths, shuffle, 50 kept'
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from help" -f -a "fetch" -d 'Download rows of a Hub dataset through the datasets-server into JSON Lines (paged, retried, resumable)'
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from help" -f -a "mix" -d 'Draw a declarative mixture of local corpora (MIX.toml: sources with weights, document or token budgets, a seed) into one JSON Lines or parquet file, deterministically'
complete -c sn9 -n "__fish_sn9_using_subcommand data; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c sn9 -n "__fish_sn9_using_subcommand eval" -l batches -d 'Batches from `sn9 data sample`: token shards (text competitions) or speech batches (TTS)' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand eval" -l vocoder -d 'TTS: the Vocos vocoder directory (`sn9 hub pull charactr/vocos-mel-24khz`)' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand eval" -l asr -d 'TTS: the Whisper directory that transcribes the synthesised speech (`sn9 hub pull openai/whisper-large-v2`)' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand eval" -l competition -d 'Competition [default: the one the batches were sampled for]' -r
complete -c sn9 -n "__fish_sn9_using_subcommand eval" -l uid -d 'Uid of each model, in order [default: 0, 1, ...]' -r
complete -c sn9 -n "__fish_sn9_using_subcommand eval" -l hotkey -d 'Hotkey of each model, in order' -r
complete -c sn9 -n "__fish_sn9_using_subcommand eval" -l model-block -d 'Upload (commit) block of each model, in order' -r
complete -c sn9 -n "__fish_sn9_using_subcommand eval" -l results -d 'Append rows to this file too, and skip models it already holds (resume)' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand eval" -l device -d 'Device: cpu, cuda:N or wgpu:N' -r
complete -c sn9 -n "__fish_sn9_using_subcommand eval" -l dtype -d 'Compute dtype' -r -f -a "f32\t''
bf16\t''"
complete -c sn9 -n "__fish_sn9_using_subcommand eval" -l batch-size -d 'Sequences per forward pass' -r
complete -c sn9 -n "__fish_sn9_using_subcommand eval" -l schedule -d 'Competition schedule (JSON) [default: built-in]' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand eval" -l tokenizer -d 'The competition\'s tokenizer (tokenizer.json or its directory): the batches must have been tokenized with exactly this file (sha256 compared with the batches\' manifest)' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand eval" -l against -d 'What-if: rows of the current top models on the same batches (a results file, e.g. from a validator or an earlier `sn9 eval`); prints each evaluated model\'s predicted competitive status, win rate and rank against them, with epsilon applied, as if uploaded at its `--model-block` (default: the batches\' block)' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand eval" -l time-limit-s -d 'Evaluate each model in its own process, killed after this many seconds (the reference allows 550): a hanging, crashing or out-of-memory model gets a row with the reason and the others are still scored' -r
complete -c sn9 -n "__fish_sn9_using_subcommand eval" -l memory-limit-mb -d 'With --time-limit-s: cap each model\'s process at this much memory (MiB of address space, CPU only); a model that needs more fails with the reason instead of exhausting the machine' -r
complete -c sn9 -n "__fish_sn9_using_subcommand eval" -l config -d 'sn9\'s settings file (TOML, one [section] per command: `[score]`, `[train]`, ...). Every command takes it; `--config` means nothing else anywhere' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand eval" -l skip-checks -d 'Evaluate even models that fail the competition\'s checks (one-off research evals)'
complete -c sn9 -n "__fish_sn9_using_subcommand eval" -l json -d 'Machine-readable output on stdout (JSON; JSON Lines for streams)'
complete -c sn9 -n "__fish_sn9_using_subcommand eval" -s q -l quiet -d 'Only errors on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand eval" -s v -l verbose -d 'More detail on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand eval" -s h -l help -d 'Print help'
complete -c sn9 -n "__fish_sn9_using_subcommand eval-worker" -l model -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand eval-worker" -l batches -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand eval-worker" -l device -r
complete -c sn9 -n "__fish_sn9_using_subcommand eval-worker" -l dtype -r -f -a "f32\t''
bf16\t''"
complete -c sn9 -n "__fish_sn9_using_subcommand eval-worker" -l batch-size -r
complete -c sn9 -n "__fish_sn9_using_subcommand eval-worker" -l memory-limit-mb -d 'Address-space limit of this process in MiB (CPU only)' -r
complete -c sn9 -n "__fish_sn9_using_subcommand eval-worker" -l vocoder -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand eval-worker" -l asr -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand eval-worker" -l config -d 'sn9\'s settings file (TOML, one [section] per command: `[score]`, `[train]`, ...). Every command takes it; `--config` means nothing else anywhere' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand eval-worker" -l json -d 'Machine-readable output on stdout (JSON; JSON Lines for streams)'
complete -c sn9 -n "__fish_sn9_using_subcommand eval-worker" -s q -l quiet -d 'Only errors on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand eval-worker" -s v -l verbose -d 'More detail on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand eval-worker" -s h -l help -d 'Print help'
complete -c sn9 -n "__fish_sn9_using_subcommand train; and not __fish_seen_subcommand_from import-job help" -l data -d 'Token-shard directory from `sn9 data pack`' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand train; and not __fish_seen_subcommand_from import-job help" -l model -d 'A Hugging Face config.json (fresh model) or a model directory (continue training it)' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand train; and not __fish_seen_subcommand_from import-job help" -l out -d 'Run directory: metrics, checkpoints and the final model' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand train; and not __fish_seen_subcommand_from import-job help" -l steps -d 'Optimiser steps in total [default: 1000]' -r
complete -c sn9 -n "__fish_sn9_using_subcommand train; and not __fish_seen_subcommand_from import-job help" -l batch-size -d 'Sequences per micro-batch [default: 8]' -r
complete -c sn9 -n "__fish_sn9_using_subcommand train; and not __fish_seen_subcommand_from import-job help" -l grad-accum -d 'Micro-batches per optimiser step; their gradients are averaged [default: 1]' -r
complete -c sn9 -n "__fish_sn9_using_subcommand train; and not __fish_seen_subcommand_from import-job help" -l lr -d 'Peak learning rate [default: 3e-4]' -r
complete -c sn9 -n "__fish_sn9_using_subcommand train; and not __fish_seen_subcommand_from import-job help" -l min-lr -d 'Learning rate at the end of the decay [default: lr / 10]' -r
complete -c sn9 -n "__fish_sn9_using_subcommand train; and not __fish_seen_subcommand_from import-job help" -l warmup-steps -d 'Linear warmup steps [default: 100, at most steps / 10]' -r
complete -c sn9 -n "__fish_sn9_using_subcommand train; and not __fish_seen_subcommand_from import-job help" -l decay -d 'Decay after warmup [default: cosine]' -r -f -a "cosine\t''
linear\t''
constant\t''"
complete -c sn9 -n "__fish_sn9_using_subcommand train; and not __fish_seen_subcommand_from import-job help" -l beta1 -d 'AdamW β₁ [default: 0.9]' -r
complete -c sn9 -n "__fish_sn9_using_subcommand train; and not __fish_seen_subcommand_from import-job help" -l beta2 -d 'AdamW β₂ [default: 0.95]' -r
complete -c sn9 -n "__fish_sn9_using_subcommand train; and not __fish_seen_subcommand_from import-job help" -l eps -d 'AdamW ε [default: 1e-8]' -r
complete -c sn9 -n "__fish_sn9_using_subcommand train; and not __fish_seen_subcommand_from import-job help" -l weight-decay -d 'Decoupled weight decay [default: 0.1]' -r
complete -c sn9 -n "__fish_sn9_using_subcommand train; and not __fish_seen_subcommand_from import-job help" -l decay-all -d 'Decay norm weights and biases too (by default only matrices decay)' -r -f -a "true\t''
false\t''"
complete -c sn9 -n "__fish_sn9_using_subcommand train; and not __fish_seen_subcommand_from import-job help" -l clip -d 'Clip gradients to this global L2 norm; 0 disables [default: 1.0]' -r
complete -c sn9 -n "__fish_sn9_using_subcommand train; and not __fish_seen_subcommand_from import-job help" -l seed -d 'Seed of the initial weights, the validation split and the data order [default: 0]' -r
complete -c sn9 -n "__fish_sn9_using_subcommand train; and not __fish_seen_subcommand_from import-job help" -l val-sequences -d 'Sequences held out for validation; 0 disables [default: 5% of the shards, at most 64]' -r
complete -c sn9 -n "__fish_sn9_using_subcommand train; and not __fish_seen_subcommand_from import-job help" -l eval-every -d 'Validate every N steps (and at the end); 0 only at the end [default: 100]' -r
complete -c sn9 -n "__fish_sn9_using_subcommand train; and not __fish_seen_subcommand_from import-job help" -l save-every -d 'Checkpoint every N steps (and at the end and on SIGINT/SIGTERM) [default: 500]' -r
complete -c sn9 -n "__fish_sn9_using_subcommand train; and not __fish_seen_subcommand_from import-job help" -l keep -d 'Checkpoints to keep [default: 3]' -r
complete -c sn9 -n "__fish_sn9_using_subcommand train; and not __fish_seen_subcommand_from import-job help" -l log-every -d 'Without a terminal, print a progress line every N steps [default: 10]' -r
complete -c sn9 -n "__fish_sn9_using_subcommand train; and not __fish_seen_subcommand_from import-job help" -l save-dtype -d 'Dtype of the final model in RUN_DIR/model [default: bf16]; checkpoints are always f32' -r
complete -c sn9 -n "__fish_sn9_using_subcommand train; and not __fish_seen_subcommand_from import-job help" -l competition -d 'Refuse to start unless the model would be accepted in this competition' -r
complete -c sn9 -n "__fish_sn9_using_subcommand train; and not __fish_seen_subcommand_from import-job help" -l schedule -d 'Competition schedule (JSON) [default: built-in]' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand train; and not __fish_seen_subcommand_from import-job help" -l peak-tflops -d 'Peak FLOP/s of the device in TFLOP/s, for the MFU column (e.g. 989 for an H100\'s bf16 dense peak); without it MFU is not reported' -r
complete -c sn9 -n "__fish_sn9_using_subcommand train; and not __fish_seen_subcommand_from import-job help" -l device -d 'Device: cpu, cuda:N or wgpu:N; several (`cuda:0,cuda:1,...`) train data-parallel, one replica per device, each taking --batch-size sequences per micro-batch [default: cpu]' -r
complete -c sn9 -n "__fish_sn9_using_subcommand train; and not __fish_seen_subcommand_from import-job help" -l dtype -d 'Compute dtype: f32, or bf16 activations and matmuls with float32 master weights, gradients and optimiser state (explicit casts; for GPUs) [default: f32; bf16 with --engine torchtitan]' -r -f -a "f32\t''
bf16\t''"
complete -c sn9 -n "__fish_sn9_using_subcommand train; and not __fish_seen_subcommand_from import-job help" -l engine -d 'Who trains: sn9 (this process, on --device), or torchtitan (write a multi-GPU, multi-node job directory to --out instead; see `sn9 train import-job`) [default: sn9]' -r -f -a "sn9\t''
torchtitan\t''"
complete -c sn9 -n "__fish_sn9_using_subcommand train; and not __fish_seen_subcommand_from import-job help" -l nodes -d 'torchtitan: nodes of the job [default: 1]' -r
complete -c sn9 -n "__fish_sn9_using_subcommand train; and not __fish_seen_subcommand_from import-job help" -l gpus-per-node -d 'torchtitan: GPUs per node [default: 8]' -r
complete -c sn9 -n "__fish_sn9_using_subcommand train; and not __fish_seen_subcommand_from import-job help" -l global-batch-size -d 'torchtitan: sequences per optimiser step; a multiple of nodes × GPUs × --batch-size (it sets the accumulation) [default: nodes × GPUs × --batch-size × --grad-accum]' -r
complete -c sn9 -n "__fish_sn9_using_subcommand train; and not __fish_seen_subcommand_from import-job help" -l config -d 'sn9\'s settings file (TOML, one [section] per command: `[score]`, `[train]`, ...). Every command takes it; `--config` means nothing else anywhere' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand train; and not __fish_seen_subcommand_from import-job help" -l resume -d 'Continue the run in --out from its latest checkpoint'
complete -c sn9 -n "__fish_sn9_using_subcommand train; and not __fish_seen_subcommand_from import-job help" -l csv -d 'Stream the per-step metrics as CSV on stdout'
complete -c sn9 -n "__fish_sn9_using_subcommand train; and not __fish_seen_subcommand_from import-job help" -l json -d 'Machine-readable output on stdout (JSON; JSON Lines for streams)'
complete -c sn9 -n "__fish_sn9_using_subcommand train; and not __fish_seen_subcommand_from import-job help" -s q -l quiet -d 'Only errors on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand train; and not __fish_seen_subcommand_from import-job help" -s v -l verbose -d 'More detail on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand train; and not __fish_seen_subcommand_from import-job help" -s h -l help -d 'Print help'
complete -c sn9 -n "__fish_sn9_using_subcommand train; and not __fish_seen_subcommand_from import-job help" -f -a "import-job" -d 'Bring a torchtitan job\'s checkpoint back as a Hugging Face model directory (bf16), for `sn9 eval`, `sn9 model info` and `sn9 hub push`'
complete -c sn9 -n "__fish_sn9_using_subcommand train; and not __fish_seen_subcommand_from import-job help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c sn9 -n "__fish_sn9_using_subcommand train; and __fish_seen_subcommand_from import-job" -l out -d 'Output model directory (Hugging Face format, bf16)' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand train; and __fish_seen_subcommand_from import-job" -l step -d 'Checkpoint step [default: the latest one in Hugging Face format]' -r
complete -c sn9 -n "__fish_sn9_using_subcommand train; and __fish_seen_subcommand_from import-job" -l max-shard-size -d 'Largest safetensors shard (e.g. 5GB)' -r
complete -c sn9 -n "__fish_sn9_using_subcommand train; and __fish_seen_subcommand_from import-job" -l config -d 'sn9\'s settings file (TOML, one [section] per command: `[score]`, `[train]`, ...). Every command takes it; `--config` means nothing else anywhere' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand train; and __fish_seen_subcommand_from import-job" -l force -d 'Replace --out if it exists'
complete -c sn9 -n "__fish_sn9_using_subcommand train; and __fish_seen_subcommand_from import-job" -l json -d 'Machine-readable output on stdout (JSON; JSON Lines for streams)'
complete -c sn9 -n "__fish_sn9_using_subcommand train; and __fish_seen_subcommand_from import-job" -s q -l quiet -d 'Only errors on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand train; and __fish_seen_subcommand_from import-job" -s v -l verbose -d 'More detail on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand train; and __fish_seen_subcommand_from import-job" -s h -l help -d 'Print help'
complete -c sn9 -n "__fish_sn9_using_subcommand train; and __fish_seen_subcommand_from help" -f -a "import-job" -d 'Bring a torchtitan job\'s checkpoint back as a Hugging Face model directory (bf16), for `sn9 eval`, `sn9 model info` and `sn9 hub push`'
complete -c sn9 -n "__fish_sn9_using_subcommand train; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c sn9 -n "__fish_sn9_using_subcommand tts; and not __fish_seen_subcommand_from synth help" -l config -d 'sn9\'s settings file (TOML, one [section] per command: `[score]`, `[train]`, ...). Every command takes it; `--config` means nothing else anywhere' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand tts; and not __fish_seen_subcommand_from synth help" -l json -d 'Machine-readable output on stdout (JSON; JSON Lines for streams)'
complete -c sn9 -n "__fish_sn9_using_subcommand tts; and not __fish_seen_subcommand_from synth help" -s q -l quiet -d 'Only errors on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand tts; and not __fish_seen_subcommand_from synth help" -s v -l verbose -d 'More detail on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand tts; and not __fish_seen_subcommand_from synth help" -s h -l help -d 'Print help'
complete -c sn9 -n "__fish_sn9_using_subcommand tts; and not __fish_seen_subcommand_from synth help" -f -a "synth" -d 'Synthesise a text with an E2TTS model in the voice of a reference clip, as the validator does: the reference clip\'s mel as prompt, the flow-matching sampler with the validator\'s noise for --seed (torch\'s CPU generator), the Vocos vocoder, the RMS rule. Writes a 24 kHz mono WAV (32-bit float)'
complete -c sn9 -n "__fish_sn9_using_subcommand tts; and not __fish_seen_subcommand_from synth help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c sn9 -n "__fish_sn9_using_subcommand tts; and __fish_seen_subcommand_from synth" -l ref-audio -d 'Reference clip (WAV, 24 kHz; mixed down to mono, raised to RMS 0.1 if quieter)' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand tts; and __fish_seen_subcommand_from synth" -l ref-text -d 'What the reference clip says' -r
complete -c sn9 -n "__fish_sn9_using_subcommand tts; and __fish_seen_subcommand_from synth" -l text -d 'The text to speak' -r
complete -c sn9 -n "__fish_sn9_using_subcommand tts; and __fish_seen_subcommand_from synth" -l vocoder -d 'Vocos directory (config.yaml + pytorch_model.bin or model.safetensors), e.g. from `sn9 hub pull charactr/vocos-mel-24khz`' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand tts; and __fish_seen_subcommand_from synth" -s o -l out -d 'Output WAV (`-` for stdout)' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand tts; and __fish_seen_subcommand_from synth" -l seed -d 'Noise seed, a decimal integer of any size (the validator passes its 256-bit seed; taken modulo 2³²)' -r
complete -c sn9 -n "__fish_sn9_using_subcommand tts; and __fish_seen_subcommand_from synth" -l frames -d 'Total frames to generate, prompt included [default: the validator\'s rule from the clip length and the two texts\' UTF-8 lengths]' -r
complete -c sn9 -n "__fish_sn9_using_subcommand tts; and __fish_seen_subcommand_from synth" -l device -d 'Device: cpu, cuda:N or wgpu:N (the noise is always drawn on the CPU)' -r
complete -c sn9 -n "__fish_sn9_using_subcommand tts; and __fish_seen_subcommand_from synth" -l config -d 'sn9\'s settings file (TOML, one [section] per command: `[score]`, `[train]`, ...). Every command takes it; `--config` means nothing else anywhere' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand tts; and __fish_seen_subcommand_from synth" -l json -d 'Machine-readable output on stdout (JSON; JSON Lines for streams)'
complete -c sn9 -n "__fish_sn9_using_subcommand tts; and __fish_seen_subcommand_from synth" -s q -l quiet -d 'Only errors on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand tts; and __fish_seen_subcommand_from synth" -s v -l verbose -d 'More detail on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand tts; and __fish_seen_subcommand_from synth" -s h -l help -d 'Print help'
complete -c sn9 -n "__fish_sn9_using_subcommand tts; and __fish_seen_subcommand_from help" -f -a "synth" -d 'Synthesise a text with an E2TTS model in the voice of a reference clip, as the validator does: the reference clip\'s mel as prompt, the flow-matching sampler with the validator\'s noise for --seed (torch\'s CPU generator), the Vocos vocoder, the RMS rule. Writes a 24 kHz mono WAV (32-bit float)'
complete -c sn9 -n "__fish_sn9_using_subcommand tts; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c sn9 -n "__fish_sn9_using_subcommand model; and not __fish_seen_subcommand_from init info generate forward bench convert help" -l config -d 'sn9\'s settings file (TOML, one [section] per command: `[score]`, `[train]`, ...). Every command takes it; `--config` means nothing else anywhere' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand model; and not __fish_seen_subcommand_from init info generate forward bench convert help" -l json -d 'Machine-readable output on stdout (JSON; JSON Lines for streams)'
complete -c sn9 -n "__fish_sn9_using_subcommand model; and not __fish_seen_subcommand_from init info generate forward bench convert help" -s q -l quiet -d 'Only errors on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand model; and not __fish_seen_subcommand_from init info generate forward bench convert help" -s v -l verbose -d 'More detail on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand model; and not __fish_seen_subcommand_from init info generate forward bench convert help" -s h -l help -d 'Print help'
complete -c sn9 -n "__fish_sn9_using_subcommand model; and not __fish_seen_subcommand_from init info generate forward bench convert help" -f -a "init" -d 'Create a randomly initialised model from a config.json, as transformers initialises one (normal(0, initializer_range) weights, zero biases, unit norms)'
complete -c sn9 -n "__fish_sn9_using_subcommand model; and not __fish_seen_subcommand_from init info generate forward bench convert help" -f -a "info" -d 'Describe a model directory: architecture, parameter count as the subnet counts it, size on disk, dtype, and which competitions it fits (and why not)'
complete -c sn9 -n "__fish_sn9_using_subcommand model; and not __fish_seen_subcommand_from init info generate forward bench convert help" -f -a "generate" -d 'Greedy generation with a KV cache (what the validator\'s sanity check runs)'
complete -c sn9 -n "__fish_sn9_using_subcommand model; and not __fish_seen_subcommand_from init info generate forward bench convert help" -f -a "forward" -d 'One forward pass over token ids: per row the validator\'s loss (mean next-token cross-entropy) and per position the logits\' argmax, max and sum (JSON Lines with --json); the full logits as a NumPy file with --logits. For checking a device or a conversion against another implementation'
complete -c sn9 -n "__fish_sn9_using_subcommand model; and not __fish_seen_subcommand_from init info generate forward bench convert help" -f -a "bench" -d 'Time the evaluation computation (forward and the validator\'s loss) on a device: tokens/s (median of --iters runs after a warm-up) and, with --peak-tflops, the model FLOPs utilisation. One JSON line on stdout'
complete -c sn9 -n "__fish_sn9_using_subcommand model; and not __fish_seen_subcommand_from init info generate forward bench convert help" -f -a "convert" -d 'Load a model and save it again (another dtype or shard size): the round trip through sn9\'s loader and writer'
complete -c sn9 -n "__fish_sn9_using_subcommand model; and not __fish_seen_subcommand_from init info generate forward bench convert help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from init" -l model-config -d 'HF config.json (Llama, Mistral, Qwen2, Gemma, Gemma2 or Phi ...ForCausalLM), or an E2TTS config.json (mel_spectrogram, backbone, odeint, sampling sections)' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from init" -l seed -d 'Random seed' -r
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from init" -l dtype -d 'Storage dtype of the weights' -r -f -a "f32\t''
bf16\t''
f16\t''"
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from init" -l max-shard-size -d 'Largest safetensors shard (e.g. 5GB); bigger models are sharded with an index' -r
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from init" -l vocab -d 'E2TTS only: the vocab.txt to use [default: space, a–z, 0–9, apostrophe and common punctuation, one per line]' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from init" -l config -d 'sn9\'s settings file (TOML, one [section] per command: `[score]`, `[train]`, ...). Every command takes it; `--config` means nothing else anywhere' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from init" -l json -d 'Machine-readable output on stdout (JSON; JSON Lines for streams)'
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from init" -s q -l quiet -d 'Only errors on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from init" -s v -l verbose -d 'More detail on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from init" -s h -l help -d 'Print help'
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from info" -l block -d 'Check the competitions in force at this block [default: the latest schedule entry]' -r
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from info" -l schedule -d 'Competition schedule (JSON) [default: built-in]' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from info" -l seq-len -d 'Tokens per sequence for the estimate' -r
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from info" -l batch-size -d 'Sequences per (micro-)batch for the estimate' -r
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from info" -l grad-accum -d 'Micro-batches per optimiser step for the training estimate' -r
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from info" -l dtype -d 'Compute dtype for the estimate (training keeps float32 master weights either way)' -r -f -a "f32\t''
bf16\t''"
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from info" -l device -d 'The device it would run on (cpu, cuda:N, wgpu:N): GPU backends hold attention scores and a runtime context' -r
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from info" -l device-memory-gib -d 'Memory of that device in GiB, to say whether it fits [default: the host\'s available memory for cpu; none for a GPU]' -r
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from info" -l config -d 'sn9\'s settings file (TOML, one [section] per command: `[score]`, `[train]`, ...). Every command takes it; `--config` means nothing else anywhere' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from info" -l memory -d 'Also estimate the peak memory of `sn9 eval` and `sn9 train` on one device (weights, optimiser state, activations, loss), from the config alone'
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from info" -l json -d 'Machine-readable output on stdout (JSON; JSON Lines for streams)'
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from info" -s q -l quiet -d 'Only errors on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from info" -s v -l verbose -d 'More detail on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from info" -s h -l help -d 'Print help'
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from generate" -l prompt-ids -d 'Prompt token ids, comma-separated' -r
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from generate" -l max-new-tokens -d 'Number of new tokens' -r
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from generate" -l device -d 'Device: cpu, cuda:N or wgpu:N' -r
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from generate" -l dtype -d 'Compute dtype' -r -f -a "f32\t''
bf16\t''"
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from generate" -l config -d 'sn9\'s settings file (TOML, one [section] per command: `[score]`, `[train]`, ...). Every command takes it; `--config` means nothing else anywhere' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from generate" -l json -d 'Machine-readable output on stdout (JSON; JSON Lines for streams)'
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from generate" -s q -l quiet -d 'Only errors on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from generate" -s v -l verbose -d 'More detail on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from generate" -s h -l help -d 'Print help'
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from forward" -l ids -d 'Token ids: a JSON file (`{"input_ids": [[...], ...]}` as tokenizers write it, or `[[...], ...]`), or JSON Lines of arrays; `-` reads stdin. Rows of equal length' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from forward" -l logits -d 'Also write the logits, float32 `[rows, tokens, vocab]`, as a .npy file' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from forward" -l device -d 'Device: cpu, cuda:N or wgpu:N' -r
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from forward" -l dtype -d 'Compute dtype' -r -f -a "f32\t''
bf16\t''"
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from forward" -l config -d 'sn9\'s settings file (TOML, one [section] per command: `[score]`, `[train]`, ...). Every command takes it; `--config` means nothing else anywhere' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from forward" -l json -d 'Machine-readable output on stdout (JSON; JSON Lines for streams)'
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from forward" -s q -l quiet -d 'Only errors on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from forward" -s v -l verbose -d 'More detail on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from forward" -s h -l help -d 'Print help'
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from bench" -l seq-len -d 'Tokens per sequence' -r
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from bench" -l batch-size -d 'Sequences per batch' -r
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from bench" -l iters -d 'Timed runs (after one untimed warm-up)' -r
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from bench" -l device -d 'Device: cpu, cuda:N or wgpu:N' -r
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from bench" -l dtype -d 'Compute dtype' -r -f -a "f32\t''
bf16\t''"
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from bench" -l peak-tflops -d 'Peak FLOP/s of the device in TFLOP/s, for the MFU (e.g. 989 for an H100\'s dense bf16)' -r
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from bench" -l config -d 'sn9\'s settings file (TOML, one [section] per command: `[score]`, `[train]`, ...). Every command takes it; `--config` means nothing else anywhere' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from bench" -l json -d 'Machine-readable output on stdout (JSON; JSON Lines for streams)'
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from bench" -s q -l quiet -d 'Only errors on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from bench" -s v -l verbose -d 'More detail on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from bench" -s h -l help -d 'Print help'
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from convert" -l dtype -r -f -a "f32\t''
bf16\t''
f16\t''"
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from convert" -l max-shard-size -r
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from convert" -l config -d 'sn9\'s settings file (TOML, one [section] per command: `[score]`, `[train]`, ...). Every command takes it; `--config` means nothing else anywhere' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from convert" -l json -d 'Machine-readable output on stdout (JSON; JSON Lines for streams)'
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from convert" -s q -l quiet -d 'Only errors on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from convert" -s v -l verbose -d 'More detail on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from convert" -s h -l help -d 'Print help'
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from help" -f -a "init" -d 'Create a randomly initialised model from a config.json, as transformers initialises one (normal(0, initializer_range) weights, zero biases, unit norms)'
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from help" -f -a "info" -d 'Describe a model directory: architecture, parameter count as the subnet counts it, size on disk, dtype, and which competitions it fits (and why not)'
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from help" -f -a "generate" -d 'Greedy generation with a KV cache (what the validator\'s sanity check runs)'
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from help" -f -a "forward" -d 'One forward pass over token ids: per row the validator\'s loss (mean next-token cross-entropy) and per position the logits\' argmax, max and sum (JSON Lines with --json); the full logits as a NumPy file with --logits. For checking a device or a conversion against another implementation'
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from help" -f -a "bench" -d 'Time the evaluation computation (forward and the validator\'s loss) on a device: tokens/s (median of --iters runs after a warm-up) and, with --peak-tflops, the model FLOPs utilisation. One JSON line on stdout'
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from help" -f -a "convert" -d 'Load a model and save it again (another dtype or shard size): the round trip through sn9\'s loader and writer'
complete -c sn9 -n "__fish_sn9_using_subcommand model; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c sn9 -n "__fish_sn9_using_subcommand validate" -l state-dir -d 'Validator state directory' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand validate" -l network -d 'finney, test, local, ws(s)://URL, or file://DIR for a local chain' -r
complete -c sn9 -n "__fish_sn9_using_subcommand validate" -l netuid -d 'Subnet id' -r
complete -c sn9 -n "__fish_sn9_using_subcommand validate" -l genesis -d 'The genesis hash the node must serve (0x + 64 hex; implied for finney): a node of another chain gets nothing signed' -r
complete -c sn9 -n "__fish_sn9_using_subcommand validate" -l wallet-path -d 'Wallets directory [default: ~/.bittensor/wallets]' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand validate" -l wallet-name -d 'Wallet (coldkey) name' -r
complete -c sn9 -n "__fish_sn9_using_subcommand validate" -l wallet-hotkey -d 'Hotkey name' -r
complete -c sn9 -n "__fish_sn9_using_subcommand validate" -l password-file -d 'Read the key password from this file (else $SN9_WALLET_PASSWORD, else a prompt)' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand validate" -l hub -d 'Model hub (https://huggingface.co, a mirror, or file://DIR) [default: $HF_ENDPOINT, else the Hub]' -r
complete -c sn9 -n "__fish_sn9_using_subcommand validate" -l eval-data -d 'Evaluation data used instead of sampling the datasets at the sync block (offline rounds, tests): `COMPETITION=DIR` for one competition, or a bare `DIR` for every competition not named; token shards (`sn9 data pack --task NAME`) or speech batches (`sn9 data pack-speech`). Repeat or separate with commas' -r
complete -c sn9 -n "__fish_sn9_using_subcommand validate" -l tokenizer -d 'The competition\'s tokenizer (tokenizer.json or its directory), to sample the evaluation data at the sync block' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand validate" -l vocoder -d 'TTS: the Vocos vocoder (`sn9 hub pull charactr/vocos-mel-24khz`), passed to `sn9 eval`' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand validate" -l asr -d 'TTS: the Whisper model that transcribes (`sn9 hub pull openai/whisper-large-v2`)' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand validate" -l schedule -d 'Competition schedule (JSON) [default: built-in]' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand validate" -l time-limit-s -d 'Seconds one model may take to evaluate (its own process is killed after)' -r
complete -c sn9 -n "__fish_sn9_using_subcommand validate" -l device -d 'Device: cpu, cuda:N or wgpu:N' -r
complete -c sn9 -n "__fish_sn9_using_subcommand validate" -l memory-limit-mb -d 'Memory cap of each model\'s evaluation process, MiB of address space (CPU only)' -r
complete -c sn9 -n "__fish_sn9_using_subcommand validate" -l keep-rounds -d 'Finished round directories to keep' -r
complete -c sn9 -n "__fish_sn9_using_subcommand validate" -l config -d 'sn9\'s settings file (TOML, one [section] per command: `[score]`, `[train]`, ...). Every command takes it; `--config` means nothing else anywhere' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand validate" -l once -d 'Run one round and exit (the only mode: schedule it with cron or a systemd timer)'
complete -c sn9 -n "__fish_sn9_using_subcommand validate" -l dry-run -d 'Stop before submitting weights (and keep state.json as it was)'
complete -c sn9 -n "__fish_sn9_using_subcommand validate" -l json -d 'Machine-readable output on stdout (JSON; JSON Lines for streams)'
complete -c sn9 -n "__fish_sn9_using_subcommand validate" -s q -l quiet -d 'Only errors on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand validate" -s v -l verbose -d 'More detail on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand validate" -s h -l help -d 'Print help'
complete -c sn9 -n "__fish_sn9_using_subcommand wallet; and not __fish_seen_subcommand_from show create help" -l config -d 'sn9\'s settings file (TOML, one [section] per command: `[score]`, `[train]`, ...). Every command takes it; `--config` means nothing else anywhere' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand wallet; and not __fish_seen_subcommand_from show create help" -l json -d 'Machine-readable output on stdout (JSON; JSON Lines for streams)'
complete -c sn9 -n "__fish_sn9_using_subcommand wallet; and not __fish_seen_subcommand_from show create help" -s q -l quiet -d 'Only errors on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand wallet; and not __fish_seen_subcommand_from show create help" -s v -l verbose -d 'More detail on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand wallet; and not __fish_seen_subcommand_from show create help" -s h -l help -d 'Print help'
complete -c sn9 -n "__fish_sn9_using_subcommand wallet; and not __fish_seen_subcommand_from show create help" -f -a "show" -d 'Print the wallet\'s coldkey and hotkey addresses (SS58; never secrets)'
complete -c sn9 -n "__fish_sn9_using_subcommand wallet; and not __fish_seen_subcommand_from show create help" -f -a "create" -d 'Create a wallet: a coldkey (encrypted unless --no-password) and a hotkey, from fresh BIP-39 phrases, as bittensor writes them (files mode 0600; existing files are never overwritten). The phrases are only in the key files: back them up'
complete -c sn9 -n "__fish_sn9_using_subcommand wallet; and not __fish_seen_subcommand_from show create help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c sn9 -n "__fish_sn9_using_subcommand wallet; and __fish_seen_subcommand_from show" -l wallet-path -d 'Wallets directory [default: ~/.bittensor/wallets]' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand wallet; and __fish_seen_subcommand_from show" -l wallet-name -d 'Wallet (coldkey) name' -r
complete -c sn9 -n "__fish_sn9_using_subcommand wallet; and __fish_seen_subcommand_from show" -l wallet-hotkey -d 'Hotkey name' -r
complete -c sn9 -n "__fish_sn9_using_subcommand wallet; and __fish_seen_subcommand_from show" -l password-file -d 'Read the key password from this file (else $SN9_WALLET_PASSWORD, else a prompt)' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand wallet; and __fish_seen_subcommand_from show" -l config -d 'sn9\'s settings file (TOML, one [section] per command: `[score]`, `[train]`, ...). Every command takes it; `--config` means nothing else anywhere' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand wallet; and __fish_seen_subcommand_from show" -l check-coldkey -d 'Also decrypt the coldkey, proving the password (asks for it)'
complete -c sn9 -n "__fish_sn9_using_subcommand wallet; and __fish_seen_subcommand_from show" -l json -d 'Machine-readable output on stdout (JSON; JSON Lines for streams)'
complete -c sn9 -n "__fish_sn9_using_subcommand wallet; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Only errors on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand wallet; and __fish_seen_subcommand_from show" -s v -l verbose -d 'More detail on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand wallet; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c sn9 -n "__fish_sn9_using_subcommand wallet; and __fish_seen_subcommand_from create" -l wallet-path -d 'Wallets directory [default: ~/.bittensor/wallets]' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand wallet; and __fish_seen_subcommand_from create" -l wallet-name -d 'Wallet (coldkey) name' -r
complete -c sn9 -n "__fish_sn9_using_subcommand wallet; and __fish_seen_subcommand_from create" -l wallet-hotkey -d 'Hotkey name' -r
complete -c sn9 -n "__fish_sn9_using_subcommand wallet; and __fish_seen_subcommand_from create" -l password-file -d 'Read the key password from this file (else $SN9_WALLET_PASSWORD, else a prompt)' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand wallet; and __fish_seen_subcommand_from create" -l config -d 'sn9\'s settings file (TOML, one [section] per command: `[score]`, `[train]`, ...). Every command takes it; `--config` means nothing else anywhere' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand wallet; and __fish_seen_subcommand_from create" -l hotkey-only -d 'Only add a hotkey to an existing wallet'
complete -c sn9 -n "__fish_sn9_using_subcommand wallet; and __fish_seen_subcommand_from create" -l no-password -d 'Store the coldkey unencrypted (test wallets only)'
complete -c sn9 -n "__fish_sn9_using_subcommand wallet; and __fish_seen_subcommand_from create" -l json -d 'Machine-readable output on stdout (JSON; JSON Lines for streams)'
complete -c sn9 -n "__fish_sn9_using_subcommand wallet; and __fish_seen_subcommand_from create" -s q -l quiet -d 'Only errors on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand wallet; and __fish_seen_subcommand_from create" -s v -l verbose -d 'More detail on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand wallet; and __fish_seen_subcommand_from create" -s h -l help -d 'Print help'
complete -c sn9 -n "__fish_sn9_using_subcommand wallet; and __fish_seen_subcommand_from help" -f -a "show" -d 'Print the wallet\'s coldkey and hotkey addresses (SS58; never secrets)'
complete -c sn9 -n "__fish_sn9_using_subcommand wallet; and __fish_seen_subcommand_from help" -f -a "create" -d 'Create a wallet: a coldkey (encrypted unless --no-password) and a hotkey, from fresh BIP-39 phrases, as bittensor writes them (files mode 0600; existing files are never overwritten). The phrases are only in the key files: back them up'
complete -c sn9 -n "__fish_sn9_using_subcommand wallet; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c sn9 -n "__fish_sn9_using_subcommand device" -l device -d 'Device to check: cpu, cuda:N or wgpu:N' -r
complete -c sn9 -n "__fish_sn9_using_subcommand device" -l config -d 'sn9\'s settings file (TOML, one [section] per command: `[score]`, `[train]`, ...). Every command takes it; `--config` means nothing else anywhere' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand device" -l json -d 'Machine-readable output on stdout (JSON; JSON Lines for streams)'
complete -c sn9 -n "__fish_sn9_using_subcommand device" -s q -l quiet -d 'Only errors on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand device" -s v -l verbose -d 'More detail on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand device" -s h -l help -d 'Print help'
complete -c sn9 -n "__fish_sn9_using_subcommand completions" -l config -d 'sn9\'s settings file (TOML, one [section] per command: `[score]`, `[train]`, ...). Every command takes it; `--config` means nothing else anywhere' -r -F
complete -c sn9 -n "__fish_sn9_using_subcommand completions" -l json -d 'Machine-readable output on stdout (JSON; JSON Lines for streams)'
complete -c sn9 -n "__fish_sn9_using_subcommand completions" -s q -l quiet -d 'Only errors on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand completions" -s v -l verbose -d 'More detail on stderr'
complete -c sn9 -n "__fish_sn9_using_subcommand completions" -s h -l help -d 'Print help'
complete -c sn9 -n "__fish_sn9_using_subcommand help; and not __fish_seen_subcommand_from competitions score hub chain data eval eval-worker train tts model validate wallet device completions help" -f -a "competitions" -d 'Show the competition schedule: ids, reward shares, model constraints, epsilon, tasks'
complete -c sn9 -n "__fish_sn9_using_subcommand help; and not __fish_seen_subcommand_from competitions score hub chain data eval eval-worker train tts model validate wallet device completions help" -f -a "score" -d 'Score a round: evaluation results + previous state → new state and weights, exactly as the reference validator computes them'
complete -c sn9 -n "__fish_sn9_using_subcommand help; and not __fish_seen_subcommand_from competitions score hub chain data eval eval-worker train tts model validate wallet device completions help" -f -a "hub" -d 'Hugging Face side: directory and secure hashes, push and pull of models at pinned commits (the Hub, a local hub or a fake)'
complete -c sn9 -n "__fish_sn9_using_subcommand help; and not __fish_seen_subcommand_from competitions score hub chain data eval eval-worker train tts model validate wallet device completions help" -f -a "chain" -d 'Chain side: metadata commitments, metagraph, blocks, weights; a subtensor node or a local chain (`--network file://DIR`)'
complete -c sn9 -n "__fish_sn9_using_subcommand help; and not __fish_seen_subcommand_from competitions score hub chain data eval eval-worker train tts model validate wallet device completions help" -f -a "data" -d 'Data: the validator\'s evaluation data for a block (text and speech), and the miner\'s side: fetch, mix, pack'
complete -c sn9 -n "__fish_sn9_using_subcommand help; and not __fish_seen_subcommand_from competitions score hub chain data eval eval-worker train tts model validate wallet device completions help" -f -a "eval" -d 'Evaluate models on sampled batches: the validator\'s per-task loss with its sanity gate, or the TTS competition\'s word error rate, as JSON Lines for `sn9 score`'
complete -c sn9 -n "__fish_sn9_using_subcommand help; and not __fish_seen_subcommand_from competitions score hub chain data eval eval-worker train tts model validate wallet device completions help" -f -a "eval-worker" -d 'Evaluate one model in an isolated process (used by `sn9 eval --time-limit-s`)'
complete -c sn9 -n "__fish_sn9_using_subcommand help; and not __fish_seen_subcommand_from competitions score hub chain data eval eval-worker train tts model validate wallet device completions help" -f -a "train" -d 'Pretrain a Llama-family model on token shards: AdamW, schedules, validation, resumable checkpoints; writes a Hugging Face model directory'
complete -c sn9 -n "__fish_sn9_using_subcommand help; and not __fish_seen_subcommand_from competitions score hub chain data eval eval-worker train tts model validate wallet device completions help" -f -a "tts" -d 'Text to speech: synthesise with a miner\'s E2TTS model as the validator does'
complete -c sn9 -n "__fish_sn9_using_subcommand help; and not __fish_seen_subcommand_from competitions score hub chain data eval eval-worker train tts model validate wallet device completions help" -f -a "model" -d 'Models: init, info (parameter count, competition fit), generate, forward, convert'
complete -c sn9 -n "__fish_sn9_using_subcommand help; and not __fish_seen_subcommand_from competitions score hub chain data eval eval-worker train tts model validate wallet device completions help" -f -a "validate" -d 'One validator round for cron: sync, choose models, download, evaluate, score, set weights; resumable, locked, pruned'
complete -c sn9 -n "__fish_sn9_using_subcommand help; and not __fish_seen_subcommand_from competitions score hub chain data eval eval-worker train tts model validate wallet device completions help" -f -a "wallet" -d 'Wallets in bittensor\'s format: show addresses, create keys'
complete -c sn9 -n "__fish_sn9_using_subcommand help; and not __fish_seen_subcommand_from competitions score hub chain data eval eval-worker train tts model validate wallet device completions help" -f -a "device" -d 'Show the compute backends compiled in and check that a device works'
complete -c sn9 -n "__fish_sn9_using_subcommand help; and not __fish_seen_subcommand_from competitions score hub chain data eval eval-worker train tts model validate wallet device completions help" -f -a "completions" -d 'Print a shell completion script (bash, zsh or fish) on stdout'
complete -c sn9 -n "__fish_sn9_using_subcommand help; and not __fish_seen_subcommand_from competitions score hub chain data eval eval-worker train tts model validate wallet device completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c sn9 -n "__fish_sn9_using_subcommand help; and __fish_seen_subcommand_from hub" -f -a "hash" -d 'Hash a model directory the way validators do, and bind it to a hotkey'
complete -c sn9 -n "__fish_sn9_using_subcommand help; and __fish_seen_subcommand_from hub" -f -a "pull" -d 'Download a model at a pinned commit into the Hugging Face cache (only the files validators load: config, safetensors, index, tokenizer; never pickles or code), verify it, and print its directory'
complete -c sn9 -n "__fish_sn9_using_subcommand help; and __fish_seen_subcommand_from hub" -f -a "push" -d 'Commit a model directory to a hub repository (created if needed; large files through Git LFS; unchanged files are not uploaded again) and print the commit and the hashes for the chain commitment'
complete -c sn9 -n "__fish_sn9_using_subcommand help; and __fish_seen_subcommand_from chain" -f -a "metadata" -d 'Build or parse the model metadata a miner commits on chain'
complete -c sn9 -n "__fish_sn9_using_subcommand help; and __fish_seen_subcommand_from chain" -f -a "block" -d 'The head block and its hash (or the hash of block --at N)'
complete -c sn9 -n "__fish_sn9_using_subcommand help; and __fish_seen_subcommand_from chain" -f -a "metagraph" -d 'The subnet\'s neurons: uid, hotkey, coldkey, stake, validator permit, last update'
complete -c sn9 -n "__fish_sn9_using_subcommand help; and __fish_seen_subcommand_from chain" -f -a "commitments" -d 'Every hotkey\'s commitment with its block, parsed as model metadata (invalid ones with the reason)'
complete -c sn9 -n "__fish_sn9_using_subcommand help; and __fish_seen_subcommand_from chain" -f -a "commit" -d 'Commit model metadata (`namespace:name:commit:secure_hash:competition_id`, at most 128 bytes) with the wallet\'s hotkey'
complete -c sn9 -n "__fish_sn9_using_subcommand help; and __fish_seen_subcommand_from chain" -f -a "weights" -d 'Weights on chain'
complete -c sn9 -n "__fish_sn9_using_subcommand help; and __fish_seen_subcommand_from chain" -f -a "local" -d 'The local chain (`--network file://DIR`): create it, register neurons, advance blocks'
complete -c sn9 -n "__fish_sn9_using_subcommand help; and __fish_seen_subcommand_from chain" -f -a "encode" -d 'Encode an extrinsic offline from a runtime\'s metadata: call data and signer payload in hex, and with --sign the signed extrinsic (for air-gapped signing or checking what a node would receive)'
complete -c sn9 -n "__fish_sn9_using_subcommand help; and __fish_seen_subcommand_from data" -f -a "sample" -d 'The reference validator\'s evaluation data for a block: pages, tokens and the 50 kept sequences of every task, bit-identical, written as token shards + a record of the pages (for the TTS competition: the People\'s Speech samples, written as speech batches)'
complete -c sn9 -n "__fish_sn9_using_subcommand help; and __fish_seen_subcommand_from data" -f -a "pack" -d 'Tokenize documents (.jsonl with a text field, .parquet, .txt) into token shards, packed as the reference packs them: EOS after each document, fixed windows across documents'
complete -c sn9 -n "__fish_sn9_using_subcommand help; and __fish_seen_subcommand_from data" -f -a "pack-speech" -d 'Make speech batches (the TTS competition\'s evaluation data) from local clips, as the validator\'s People\'s Speech loader makes them from a page of rows: decode, mono, RMS, resample to 24 kHz, skip rules, query pairing, tokens and lengths, shuffle, 50 kept'
complete -c sn9 -n "__fish_sn9_using_subcommand help; and __fish_seen_subcommand_from data" -f -a "fetch" -d 'Download rows of a Hub dataset through the datasets-server into JSON Lines (paged, retried, resumable)'
complete -c sn9 -n "__fish_sn9_using_subcommand help; and __fish_seen_subcommand_from data" -f -a "mix" -d 'Draw a declarative mixture of local corpora (MIX.toml: sources with weights, document or token budgets, a seed) into one JSON Lines or parquet file, deterministically'
complete -c sn9 -n "__fish_sn9_using_subcommand help; and __fish_seen_subcommand_from train" -f -a "import-job" -d 'Bring a torchtitan job\'s checkpoint back as a Hugging Face model directory (bf16), for `sn9 eval`, `sn9 model info` and `sn9 hub push`'
complete -c sn9 -n "__fish_sn9_using_subcommand help; and __fish_seen_subcommand_from tts" -f -a "synth" -d 'Synthesise a text with an E2TTS model in the voice of a reference clip, as the validator does: the reference clip\'s mel as prompt, the flow-matching sampler with the validator\'s noise for --seed (torch\'s CPU generator), the Vocos vocoder, the RMS rule. Writes a 24 kHz mono WAV (32-bit float)'
complete -c sn9 -n "__fish_sn9_using_subcommand help; and __fish_seen_subcommand_from model" -f -a "init" -d 'Create a randomly initialised model from a config.json, as transformers initialises one (normal(0, initializer_range) weights, zero biases, unit norms)'
complete -c sn9 -n "__fish_sn9_using_subcommand help; and __fish_seen_subcommand_from model" -f -a "info" -d 'Describe a model directory: architecture, parameter count as the subnet counts it, size on disk, dtype, and which competitions it fits (and why not)'
complete -c sn9 -n "__fish_sn9_using_subcommand help; and __fish_seen_subcommand_from model" -f -a "generate" -d 'Greedy generation with a KV cache (what the validator\'s sanity check runs)'
complete -c sn9 -n "__fish_sn9_using_subcommand help; and __fish_seen_subcommand_from model" -f -a "forward" -d 'One forward pass over token ids: per row the validator\'s loss (mean next-token cross-entropy) and per position the logits\' argmax, max and sum (JSON Lines with --json); the full logits as a NumPy file with --logits. For checking a device or a conversion against another implementation'
complete -c sn9 -n "__fish_sn9_using_subcommand help; and __fish_seen_subcommand_from model" -f -a "bench" -d 'Time the evaluation computation (forward and the validator\'s loss) on a device: tokens/s (median of --iters runs after a warm-up) and, with --peak-tflops, the model FLOPs utilisation. One JSON line on stdout'
complete -c sn9 -n "__fish_sn9_using_subcommand help; and __fish_seen_subcommand_from model" -f -a "convert" -d 'Load a model and save it again (another dtype or shard size): the round trip through sn9\'s loader and writer'
complete -c sn9 -n "__fish_sn9_using_subcommand help; and __fish_seen_subcommand_from wallet" -f -a "show" -d 'Print the wallet\'s coldkey and hotkey addresses (SS58; never secrets)'
complete -c sn9 -n "__fish_sn9_using_subcommand help; and __fish_seen_subcommand_from wallet" -f -a "create" -d 'Create a wallet: a coldkey (encrypted unless --no-password) and a hotkey, from fresh BIP-39 phrases, as bittensor writes them (files mode 0600; existing files are never overwritten). The phrases are only in the key files: back them up'
