# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_devenv_global_optspecs
    string join \n f/file= C= v/verbose q/quiet cache= platform= color= h/help V/version
end

function __fish_devenv_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_devenv_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_devenv_using_subcommand
    set -l cmd (__fish_devenv_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c devenv -n "__fish_devenv_needs_command" -s f -l file -d 'Manifest to use instead of the nearest devenv.toml' -r -F
complete -c devenv -n "__fish_devenv_needs_command" -s C -d 'Run as if started in DIR' -r -F
complete -c devenv -n "__fish_devenv_needs_command" -l cache -d 'Registry cache (`host/repo`) to use instead of the manifest\'s `[cache] registry`' -r
complete -c devenv -n "__fish_devenv_needs_command" -l platform -d 'Platform to build and run the environment for (`linux/arm64`), instead of the engine\'s; another architecture runs under the engine\'s emulation' -r
complete -c devenv -n "__fish_devenv_needs_command" -l color -d 'When to use colours' -r -f -a "auto\t''
always\t''
never\t''"
complete -c devenv -n "__fish_devenv_needs_command" -s v -l verbose -d 'More output: -v explains decisions, -vv traces'
complete -c devenv -n "__fish_devenv_needs_command" -s q -l quiet -d 'Only errors'
complete -c devenv -n "__fish_devenv_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c devenv -n "__fish_devenv_needs_command" -s V -l version -d 'Print version'
complete -c devenv -n "__fish_devenv_needs_command" -f -a "up" -d 'Build what is missing, create or reuse the container, run hooks'
complete -c devenv -n "__fish_devenv_needs_command" -f -a "shell" -d 'Open an interactive shell in the environment (starting it if needed)'
complete -c devenv -n "__fish_devenv_needs_command" -f -a "run" -d 'Run a command in the environment and exit with its status'
complete -c devenv -n "__fish_devenv_needs_command" -f -a "build" -d 'Build the image only'
complete -c devenv -n "__fish_devenv_needs_command" -f -a "hash" -d 'Print the image hash (64 hex characters)'
complete -c devenv -n "__fish_devenv_needs_command" -f -a "lock" -d 'Create devenv.lock, or move the base on purpose with --update'
complete -c devenv -n "__fish_devenv_needs_command" -f -a "status" -d 'Show the image and container state'
complete -c devenv -n "__fish_devenv_needs_command" -f -a "fetch" -d 'Copy files from the environment\'s workspace into the project (for remote engines, whose workspace is a synced copy: test reports, generated files)'
complete -c devenv -n "__fish_devenv_needs_command" -f -a "down" -d 'Remove this project\'s container (and named volumes with --volumes)'
complete -c devenv -n "__fish_devenv_needs_command" -f -a "logs" -d 'Show the output of the services and the dev container, each line prefixed with its source'
complete -c devenv -n "__fish_devenv_needs_command" -f -a "restart" -d 'Restart services (all without arguments) and wait until they are ready'
complete -c devenv -n "__fish_devenv_needs_command" -f -a "scale" -d 'Change how many replicas of services run, at once; the next `devenv up` goes back to the manifest\'s counts'
complete -c devenv -n "__fish_devenv_needs_command" -f -a "prune" -d 'Remove images and build leftovers of this project that nothing uses'
complete -c devenv -n "__fish_devenv_needs_command" -f -a "push" -d 'Push the current image to the registry cache as `<registry>:<hash>`'
complete -c devenv -n "__fish_devenv_needs_command" -f -a "verify" -d 'Prove the local environment is what devenv.toml, devenv.lock and the inputs say'
complete -c devenv -n "__fish_devenv_needs_command" -f -a "diff" -d 'Show what differs between two environments: inputs, files, packages'
complete -c devenv -n "__fish_devenv_needs_command" -f -a "pack" -d 'Write the environment\'s layer chain, lock and identity into one file'
complete -c devenv -n "__fish_devenv_needs_command" -f -a "load" -d 'Load a file written by `devenv pack`, without registry or network'
complete -c devenv -n "__fish_devenv_needs_command" -f -a "validate" -d 'Check the manifest and report every problem'
complete -c devenv -n "__fish_devenv_needs_command" -f -a "config" -d 'Print the resolved manifest with every default filled in'
complete -c devenv -n "__fish_devenv_needs_command" -f -a "export" -d 'Write the environment for tools that don\'t know devenv (Dockerfile, devcontainer.json)'
complete -c devenv -n "__fish_devenv_needs_command" -f -a "import" -d 'Write devenv.toml from another tool\'s configuration (devcontainer.json)'
complete -c devenv -n "__fish_devenv_needs_command" -f -a "watch" -d 'Keep the environment current while you work; run `[[watch]]` rules'
complete -c devenv -n "__fish_devenv_needs_command" -f -a "doctor" -d 'Check the Docker engine and this machine'
complete -c devenv -n "__fish_devenv_needs_command" -f -a "init" -d 'Write a devenv.toml for this project from a template'
complete -c devenv -n "__fish_devenv_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c devenv -n "__fish_devenv_needs_command" -f -a "man" -d 'Print the man page (roff)'
complete -c devenv -n "__fish_devenv_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c devenv -n "__fish_devenv_using_subcommand up" -l debounce -d 'Quiet time after the last change before acting, in milliseconds' -r
complete -c devenv -n "__fish_devenv_using_subcommand up" -l on-busy -d 'When a rule\'s files change while its command still runs: run it once more after it ends (queue), or stop it and start again (restart)' -r -f -a "queue\t''
restart\t''"
complete -c devenv -n "__fish_devenv_using_subcommand up" -s f -l file -d 'Manifest to use instead of the nearest devenv.toml' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand up" -s C -d 'Run as if started in DIR' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand up" -l cache -d 'Registry cache (`host/repo`) to use instead of the manifest\'s `[cache] registry`' -r
complete -c devenv -n "__fish_devenv_using_subcommand up" -l platform -d 'Platform to build and run the environment for (`linux/arm64`), instead of the engine\'s; another architecture runs under the engine\'s emulation' -r
complete -c devenv -n "__fish_devenv_using_subcommand up" -l color -d 'When to use colours' -r -f -a "auto\t''
always\t''
never\t''"
complete -c devenv -n "__fish_devenv_using_subcommand up" -l locked -d 'Fail instead of writing devenv.lock (for CI)'
complete -c devenv -n "__fish_devenv_using_subcommand up" -l swarm -d 'Run the services as Docker Swarm services over the nodes of the swarm the engine manages (also DEVENV_SWARM=1); later commands find them there by themselves'
complete -c devenv -n "__fish_devenv_using_subcommand up" -l watch -d 'Keep watching afterwards, as `devenv watch` does'
complete -c devenv -n "__fish_devenv_using_subcommand up" -l json -d 'Print one JSON object on stdout: `changed`, `hash`, `actions` (and `error`)'
complete -c devenv -n "__fish_devenv_using_subcommand up" -l poll -d 'Poll for changes instead of using inotify (network filesystems, exhausted limits)'
complete -c devenv -n "__fish_devenv_using_subcommand up" -s v -l verbose -d 'More output: -v explains decisions, -vv traces'
complete -c devenv -n "__fish_devenv_using_subcommand up" -s q -l quiet -d 'Only errors'
complete -c devenv -n "__fish_devenv_using_subcommand up" -s h -l help -d 'Print help'
complete -c devenv -n "__fish_devenv_using_subcommand up" -s V -l version -d 'Print version'
complete -c devenv -n "__fish_devenv_using_subcommand shell" -s f -l file -d 'Manifest to use instead of the nearest devenv.toml' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand shell" -s C -d 'Run as if started in DIR' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand shell" -l cache -d 'Registry cache (`host/repo`) to use instead of the manifest\'s `[cache] registry`' -r
complete -c devenv -n "__fish_devenv_using_subcommand shell" -l platform -d 'Platform to build and run the environment for (`linux/arm64`), instead of the engine\'s; another architecture runs under the engine\'s emulation' -r
complete -c devenv -n "__fish_devenv_using_subcommand shell" -l color -d 'When to use colours' -r -f -a "auto\t''
always\t''
never\t''"
complete -c devenv -n "__fish_devenv_using_subcommand shell" -l locked -d 'Fail instead of writing devenv.lock (for CI)'
complete -c devenv -n "__fish_devenv_using_subcommand shell" -s v -l verbose -d 'More output: -v explains decisions, -vv traces'
complete -c devenv -n "__fish_devenv_using_subcommand shell" -s q -l quiet -d 'Only errors'
complete -c devenv -n "__fish_devenv_using_subcommand shell" -s h -l help -d 'Print help'
complete -c devenv -n "__fish_devenv_using_subcommand shell" -s V -l version -d 'Print version'
complete -c devenv -n "__fish_devenv_using_subcommand run" -s f -l file -d 'Manifest to use instead of the nearest devenv.toml' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand run" -s C -d 'Run as if started in DIR' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand run" -l cache -d 'Registry cache (`host/repo`) to use instead of the manifest\'s `[cache] registry`' -r
complete -c devenv -n "__fish_devenv_using_subcommand run" -l platform -d 'Platform to build and run the environment for (`linux/arm64`), instead of the engine\'s; another architecture runs under the engine\'s emulation' -r
complete -c devenv -n "__fish_devenv_using_subcommand run" -l color -d 'When to use colours' -r -f -a "auto\t''
always\t''
never\t''"
complete -c devenv -n "__fish_devenv_using_subcommand run" -l locked -d 'Fail instead of writing devenv.lock (for CI)'
complete -c devenv -n "__fish_devenv_using_subcommand run" -s v -l verbose -d 'More output: -v explains decisions, -vv traces'
complete -c devenv -n "__fish_devenv_using_subcommand run" -s q -l quiet -d 'Only errors'
complete -c devenv -n "__fish_devenv_using_subcommand run" -s h -l help -d 'Print help'
complete -c devenv -n "__fish_devenv_using_subcommand run" -s V -l version -d 'Print version'
complete -c devenv -n "__fish_devenv_using_subcommand build" -s f -l file -d 'Manifest to use instead of the nearest devenv.toml' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand build" -s C -d 'Run as if started in DIR' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand build" -l cache -d 'Registry cache (`host/repo`) to use instead of the manifest\'s `[cache] registry`' -r
complete -c devenv -n "__fish_devenv_using_subcommand build" -l platform -d 'Platform to build and run the environment for (`linux/arm64`), instead of the engine\'s; another architecture runs under the engine\'s emulation' -r
complete -c devenv -n "__fish_devenv_using_subcommand build" -l color -d 'When to use colours' -r -f -a "auto\t''
always\t''
never\t''"
complete -c devenv -n "__fish_devenv_using_subcommand build" -l locked -d 'Fail instead of writing devenv.lock (for CI)'
complete -c devenv -n "__fish_devenv_using_subcommand build" -l json -d 'Print one JSON object on stdout: `changed`, `hash`, `actions` (and `error`)'
complete -c devenv -n "__fish_devenv_using_subcommand build" -s v -l verbose -d 'More output: -v explains decisions, -vv traces'
complete -c devenv -n "__fish_devenv_using_subcommand build" -s q -l quiet -d 'Only errors'
complete -c devenv -n "__fish_devenv_using_subcommand build" -s h -l help -d 'Print help'
complete -c devenv -n "__fish_devenv_using_subcommand build" -s V -l version -d 'Print version'
complete -c devenv -n "__fish_devenv_using_subcommand hash" -s f -l file -d 'Manifest to use instead of the nearest devenv.toml' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand hash" -s C -d 'Run as if started in DIR' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand hash" -l cache -d 'Registry cache (`host/repo`) to use instead of the manifest\'s `[cache] registry`' -r
complete -c devenv -n "__fish_devenv_using_subcommand hash" -l platform -d 'Platform to build and run the environment for (`linux/arm64`), instead of the engine\'s; another architecture runs under the engine\'s emulation' -r
complete -c devenv -n "__fish_devenv_using_subcommand hash" -l color -d 'When to use colours' -r -f -a "auto\t''
always\t''
never\t''"
complete -c devenv -n "__fish_devenv_using_subcommand hash" -l locked -d 'Fail instead of writing devenv.lock (for CI)'
complete -c devenv -n "__fish_devenv_using_subcommand hash" -s v -l verbose -d 'More output: -v explains decisions, -vv traces'
complete -c devenv -n "__fish_devenv_using_subcommand hash" -s q -l quiet -d 'Only errors'
complete -c devenv -n "__fish_devenv_using_subcommand hash" -s h -l help -d 'Print help'
complete -c devenv -n "__fish_devenv_using_subcommand hash" -s V -l version -d 'Print version'
complete -c devenv -n "__fish_devenv_using_subcommand lock" -s f -l file -d 'Manifest to use instead of the nearest devenv.toml' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand lock" -s C -d 'Run as if started in DIR' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand lock" -l cache -d 'Registry cache (`host/repo`) to use instead of the manifest\'s `[cache] registry`' -r
complete -c devenv -n "__fish_devenv_using_subcommand lock" -l platform -d 'Platform to build and run the environment for (`linux/arm64`), instead of the engine\'s; another architecture runs under the engine\'s emulation' -r
complete -c devenv -n "__fish_devenv_using_subcommand lock" -l color -d 'When to use colours' -r -f -a "auto\t''
always\t''
never\t''"
complete -c devenv -n "__fish_devenv_using_subcommand lock" -l update -d 'Re-resolve the base reference and move the lock'
complete -c devenv -n "__fish_devenv_using_subcommand lock" -l locked -d 'Fail if the lock would change'
complete -c devenv -n "__fish_devenv_using_subcommand lock" -s v -l verbose -d 'More output: -v explains decisions, -vv traces'
complete -c devenv -n "__fish_devenv_using_subcommand lock" -s q -l quiet -d 'Only errors'
complete -c devenv -n "__fish_devenv_using_subcommand lock" -s h -l help -d 'Print help'
complete -c devenv -n "__fish_devenv_using_subcommand lock" -s V -l version -d 'Print version'
complete -c devenv -n "__fish_devenv_using_subcommand status" -s f -l file -d 'Manifest to use instead of the nearest devenv.toml' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand status" -s C -d 'Run as if started in DIR' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand status" -l cache -d 'Registry cache (`host/repo`) to use instead of the manifest\'s `[cache] registry`' -r
complete -c devenv -n "__fish_devenv_using_subcommand status" -l platform -d 'Platform to build and run the environment for (`linux/arm64`), instead of the engine\'s; another architecture runs under the engine\'s emulation' -r
complete -c devenv -n "__fish_devenv_using_subcommand status" -l color -d 'When to use colours' -r -f -a "auto\t''
always\t''
never\t''"
complete -c devenv -n "__fish_devenv_using_subcommand status" -l json -d 'Machine-readable output'
complete -c devenv -n "__fish_devenv_using_subcommand status" -s v -l verbose -d 'More output: -v explains decisions, -vv traces'
complete -c devenv -n "__fish_devenv_using_subcommand status" -s q -l quiet -d 'Only errors'
complete -c devenv -n "__fish_devenv_using_subcommand status" -s h -l help -d 'Print help'
complete -c devenv -n "__fish_devenv_using_subcommand status" -s V -l version -d 'Print version'
complete -c devenv -n "__fish_devenv_using_subcommand fetch" -s f -l file -d 'Manifest to use instead of the nearest devenv.toml' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand fetch" -s C -d 'Run as if started in DIR' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand fetch" -l cache -d 'Registry cache (`host/repo`) to use instead of the manifest\'s `[cache] registry`' -r
complete -c devenv -n "__fish_devenv_using_subcommand fetch" -l platform -d 'Platform to build and run the environment for (`linux/arm64`), instead of the engine\'s; another architecture runs under the engine\'s emulation' -r
complete -c devenv -n "__fish_devenv_using_subcommand fetch" -l color -d 'When to use colours' -r -f -a "auto\t''
always\t''
never\t''"
complete -c devenv -n "__fish_devenv_using_subcommand fetch" -l force -d 'Overwrite local files edited since the last sync (by default such a path is refused, naming them)'
complete -c devenv -n "__fish_devenv_using_subcommand fetch" -s v -l verbose -d 'More output: -v explains decisions, -vv traces'
complete -c devenv -n "__fish_devenv_using_subcommand fetch" -s q -l quiet -d 'Only errors'
complete -c devenv -n "__fish_devenv_using_subcommand fetch" -s h -l help -d 'Print help'
complete -c devenv -n "__fish_devenv_using_subcommand fetch" -s V -l version -d 'Print version'
complete -c devenv -n "__fish_devenv_using_subcommand down" -s f -l file -d 'Manifest to use instead of the nearest devenv.toml' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand down" -s C -d 'Run as if started in DIR' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand down" -l cache -d 'Registry cache (`host/repo`) to use instead of the manifest\'s `[cache] registry`' -r
complete -c devenv -n "__fish_devenv_using_subcommand down" -l platform -d 'Platform to build and run the environment for (`linux/arm64`), instead of the engine\'s; another architecture runs under the engine\'s emulation' -r
complete -c devenv -n "__fish_devenv_using_subcommand down" -l color -d 'When to use colours' -r -f -a "auto\t''
always\t''
never\t''"
complete -c devenv -n "__fish_devenv_using_subcommand down" -l volumes -d 'Also remove the project\'s named volumes'
complete -c devenv -n "__fish_devenv_using_subcommand down" -l json -d 'Print one JSON object on stdout: `changed`, `hash`, `actions` (and `error`)'
complete -c devenv -n "__fish_devenv_using_subcommand down" -s v -l verbose -d 'More output: -v explains decisions, -vv traces'
complete -c devenv -n "__fish_devenv_using_subcommand down" -s q -l quiet -d 'Only errors'
complete -c devenv -n "__fish_devenv_using_subcommand down" -s h -l help -d 'Print help'
complete -c devenv -n "__fish_devenv_using_subcommand down" -s V -l version -d 'Print version'
complete -c devenv -n "__fish_devenv_using_subcommand logs" -l tail -d 'Only the last N lines of each source' -r
complete -c devenv -n "__fish_devenv_using_subcommand logs" -s f -l file -d 'Manifest to use instead of the nearest devenv.toml' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand logs" -s C -d 'Run as if started in DIR' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand logs" -l cache -d 'Registry cache (`host/repo`) to use instead of the manifest\'s `[cache] registry`' -r
complete -c devenv -n "__fish_devenv_using_subcommand logs" -l platform -d 'Platform to build and run the environment for (`linux/arm64`), instead of the engine\'s; another architecture runs under the engine\'s emulation' -r
complete -c devenv -n "__fish_devenv_using_subcommand logs" -l color -d 'When to use colours' -r -f -a "auto\t''
always\t''
never\t''"
complete -c devenv -n "__fish_devenv_using_subcommand logs" -l follow -d 'Keep following new output (`-f` after `logs` means this)'
complete -c devenv -n "__fish_devenv_using_subcommand logs" -s v -l verbose -d 'More output: -v explains decisions, -vv traces'
complete -c devenv -n "__fish_devenv_using_subcommand logs" -s q -l quiet -d 'Only errors'
complete -c devenv -n "__fish_devenv_using_subcommand logs" -s h -l help -d 'Print help'
complete -c devenv -n "__fish_devenv_using_subcommand logs" -s V -l version -d 'Print version'
complete -c devenv -n "__fish_devenv_using_subcommand restart" -s f -l file -d 'Manifest to use instead of the nearest devenv.toml' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand restart" -s C -d 'Run as if started in DIR' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand restart" -l cache -d 'Registry cache (`host/repo`) to use instead of the manifest\'s `[cache] registry`' -r
complete -c devenv -n "__fish_devenv_using_subcommand restart" -l platform -d 'Platform to build and run the environment for (`linux/arm64`), instead of the engine\'s; another architecture runs under the engine\'s emulation' -r
complete -c devenv -n "__fish_devenv_using_subcommand restart" -l color -d 'When to use colours' -r -f -a "auto\t''
always\t''
never\t''"
complete -c devenv -n "__fish_devenv_using_subcommand restart" -l json -d 'Print one JSON object on stdout: `changed`, `hash`, `actions` (and `error`)'
complete -c devenv -n "__fish_devenv_using_subcommand restart" -s v -l verbose -d 'More output: -v explains decisions, -vv traces'
complete -c devenv -n "__fish_devenv_using_subcommand restart" -s q -l quiet -d 'Only errors'
complete -c devenv -n "__fish_devenv_using_subcommand restart" -s h -l help -d 'Print help'
complete -c devenv -n "__fish_devenv_using_subcommand restart" -s V -l version -d 'Print version'
complete -c devenv -n "__fish_devenv_using_subcommand scale" -s f -l file -d 'Manifest to use instead of the nearest devenv.toml' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand scale" -s C -d 'Run as if started in DIR' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand scale" -l cache -d 'Registry cache (`host/repo`) to use instead of the manifest\'s `[cache] registry`' -r
complete -c devenv -n "__fish_devenv_using_subcommand scale" -l platform -d 'Platform to build and run the environment for (`linux/arm64`), instead of the engine\'s; another architecture runs under the engine\'s emulation' -r
complete -c devenv -n "__fish_devenv_using_subcommand scale" -l color -d 'When to use colours' -r -f -a "auto\t''
always\t''
never\t''"
complete -c devenv -n "__fish_devenv_using_subcommand scale" -s v -l verbose -d 'More output: -v explains decisions, -vv traces'
complete -c devenv -n "__fish_devenv_using_subcommand scale" -s q -l quiet -d 'Only errors'
complete -c devenv -n "__fish_devenv_using_subcommand scale" -s h -l help -d 'Print help'
complete -c devenv -n "__fish_devenv_using_subcommand scale" -s V -l version -d 'Print version'
complete -c devenv -n "__fish_devenv_using_subcommand prune" -s f -l file -d 'Manifest to use instead of the nearest devenv.toml' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand prune" -s C -d 'Run as if started in DIR' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand prune" -l cache -d 'Registry cache (`host/repo`) to use instead of the manifest\'s `[cache] registry`' -r
complete -c devenv -n "__fish_devenv_using_subcommand prune" -l platform -d 'Platform to build and run the environment for (`linux/arm64`), instead of the engine\'s; another architecture runs under the engine\'s emulation' -r
complete -c devenv -n "__fish_devenv_using_subcommand prune" -l color -d 'When to use colours' -r -f -a "auto\t''
always\t''
never\t''"
complete -c devenv -n "__fish_devenv_using_subcommand prune" -l all -d 'Every project\'s devenv images and leftovers on this engine that nothing uses, not only this project\'s (still keeping this project\'s current chain)'
complete -c devenv -n "__fish_devenv_using_subcommand prune" -l caches -d 'Also remove this client\'s package caches (steps\' `caches`), which prune keeps'
complete -c devenv -n "__fish_devenv_using_subcommand prune" -l current -d 'Also this project\'s current image chain (needs `devenv down` first); layers other projects build on stay'
complete -c devenv -n "__fish_devenv_using_subcommand prune" -s v -l verbose -d 'More output: -v explains decisions, -vv traces'
complete -c devenv -n "__fish_devenv_using_subcommand prune" -s q -l quiet -d 'Only errors'
complete -c devenv -n "__fish_devenv_using_subcommand prune" -s h -l help -d 'Print help'
complete -c devenv -n "__fish_devenv_using_subcommand prune" -s V -l version -d 'Print version'
complete -c devenv -n "__fish_devenv_using_subcommand push" -s f -l file -d 'Manifest to use instead of the nearest devenv.toml' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand push" -s C -d 'Run as if started in DIR' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand push" -l cache -d 'Registry cache (`host/repo`) to use instead of the manifest\'s `[cache] registry`' -r
complete -c devenv -n "__fish_devenv_using_subcommand push" -l platform -d 'Platform to build and run the environment for (`linux/arm64`), instead of the engine\'s; another architecture runs under the engine\'s emulation' -r
complete -c devenv -n "__fish_devenv_using_subcommand push" -l color -d 'When to use colours' -r -f -a "auto\t''
always\t''
never\t''"
complete -c devenv -n "__fish_devenv_using_subcommand push" -l locked -d 'Fail instead of writing devenv.lock (for CI)'
complete -c devenv -n "__fish_devenv_using_subcommand push" -l steps -d 'Also push every step layer, so other machines can reuse a shared prefix'
complete -c devenv -n "__fish_devenv_using_subcommand push" -s v -l verbose -d 'More output: -v explains decisions, -vv traces'
complete -c devenv -n "__fish_devenv_using_subcommand push" -s q -l quiet -d 'Only errors'
complete -c devenv -n "__fish_devenv_using_subcommand push" -s h -l help -d 'Print help'
complete -c devenv -n "__fish_devenv_using_subcommand push" -s V -l version -d 'Print version'
complete -c devenv -n "__fish_devenv_using_subcommand verify" -l against -d 'Also check that this registry image (`host/repo[:tag]`) or pack file holds the same image' -r
complete -c devenv -n "__fish_devenv_using_subcommand verify" -s f -l file -d 'Manifest to use instead of the nearest devenv.toml' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand verify" -s C -d 'Run as if started in DIR' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand verify" -l cache -d 'Registry cache (`host/repo`) to use instead of the manifest\'s `[cache] registry`' -r
complete -c devenv -n "__fish_devenv_using_subcommand verify" -l platform -d 'Platform to build and run the environment for (`linux/arm64`), instead of the engine\'s; another architecture runs under the engine\'s emulation' -r
complete -c devenv -n "__fish_devenv_using_subcommand verify" -l color -d 'When to use colours' -r -f -a "auto\t''
always\t''
never\t''"
complete -c devenv -n "__fish_devenv_using_subcommand verify" -l json -d 'Machine-readable output'
complete -c devenv -n "__fish_devenv_using_subcommand verify" -s v -l verbose -d 'More output: -v explains decisions, -vv traces'
complete -c devenv -n "__fish_devenv_using_subcommand verify" -s q -l quiet -d 'Only errors'
complete -c devenv -n "__fish_devenv_using_subcommand verify" -s h -l help -d 'Print help'
complete -c devenv -n "__fish_devenv_using_subcommand verify" -s V -l version -d 'Print version'
complete -c devenv -n "__fish_devenv_using_subcommand diff" -s f -l file -d 'Manifest to use instead of the nearest devenv.toml' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand diff" -s C -d 'Run as if started in DIR' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand diff" -l cache -d 'Registry cache (`host/repo`) to use instead of the manifest\'s `[cache] registry`' -r
complete -c devenv -n "__fish_devenv_using_subcommand diff" -l platform -d 'Platform to build and run the environment for (`linux/arm64`), instead of the engine\'s; another architecture runs under the engine\'s emulation' -r
complete -c devenv -n "__fish_devenv_using_subcommand diff" -l color -d 'When to use colours' -r -f -a "auto\t''
always\t''
never\t''"
complete -c devenv -n "__fish_devenv_using_subcommand diff" -l json -d 'Machine-readable output'
complete -c devenv -n "__fish_devenv_using_subcommand diff" -s v -l verbose -d 'More output: -v explains decisions, -vv traces'
complete -c devenv -n "__fish_devenv_using_subcommand diff" -s q -l quiet -d 'Only errors'
complete -c devenv -n "__fish_devenv_using_subcommand diff" -s h -l help -d 'Print help'
complete -c devenv -n "__fish_devenv_using_subcommand diff" -s V -l version -d 'Print version'
complete -c devenv -n "__fish_devenv_using_subcommand pack" -s o -l output -d 'The file to write (default `<name>-<first 12 hex of the hash>.devenv.tar`)' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand pack" -s f -l file -d 'Manifest to use instead of the nearest devenv.toml' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand pack" -s C -d 'Run as if started in DIR' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand pack" -l cache -d 'Registry cache (`host/repo`) to use instead of the manifest\'s `[cache] registry`' -r
complete -c devenv -n "__fish_devenv_using_subcommand pack" -l platform -d 'Platform to build and run the environment for (`linux/arm64`), instead of the engine\'s; another architecture runs under the engine\'s emulation' -r
complete -c devenv -n "__fish_devenv_using_subcommand pack" -l color -d 'When to use colours' -r -f -a "auto\t''
always\t''
never\t''"
complete -c devenv -n "__fish_devenv_using_subcommand pack" -l locked -d 'Fail instead of writing devenv.lock (for CI)'
complete -c devenv -n "__fish_devenv_using_subcommand pack" -s v -l verbose -d 'More output: -v explains decisions, -vv traces'
complete -c devenv -n "__fish_devenv_using_subcommand pack" -s q -l quiet -d 'Only errors'
complete -c devenv -n "__fish_devenv_using_subcommand pack" -s h -l help -d 'Print help'
complete -c devenv -n "__fish_devenv_using_subcommand pack" -s V -l version -d 'Print version'
complete -c devenv -n "__fish_devenv_using_subcommand load" -s f -l file -d 'Manifest to use instead of the nearest devenv.toml' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand load" -s C -d 'Run as if started in DIR' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand load" -l cache -d 'Registry cache (`host/repo`) to use instead of the manifest\'s `[cache] registry`' -r
complete -c devenv -n "__fish_devenv_using_subcommand load" -l platform -d 'Platform to build and run the environment for (`linux/arm64`), instead of the engine\'s; another architecture runs under the engine\'s emulation' -r
complete -c devenv -n "__fish_devenv_using_subcommand load" -l color -d 'When to use colours' -r -f -a "auto\t''
always\t''
never\t''"
complete -c devenv -n "__fish_devenv_using_subcommand load" -s v -l verbose -d 'More output: -v explains decisions, -vv traces'
complete -c devenv -n "__fish_devenv_using_subcommand load" -s q -l quiet -d 'Only errors'
complete -c devenv -n "__fish_devenv_using_subcommand load" -s h -l help -d 'Print help'
complete -c devenv -n "__fish_devenv_using_subcommand load" -s V -l version -d 'Print version'
complete -c devenv -n "__fish_devenv_using_subcommand validate" -s f -l file -d 'Manifest to use instead of the nearest devenv.toml' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand validate" -s C -d 'Run as if started in DIR' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand validate" -l cache -d 'Registry cache (`host/repo`) to use instead of the manifest\'s `[cache] registry`' -r
complete -c devenv -n "__fish_devenv_using_subcommand validate" -l platform -d 'Platform to build and run the environment for (`linux/arm64`), instead of the engine\'s; another architecture runs under the engine\'s emulation' -r
complete -c devenv -n "__fish_devenv_using_subcommand validate" -l color -d 'When to use colours' -r -f -a "auto\t''
always\t''
never\t''"
complete -c devenv -n "__fish_devenv_using_subcommand validate" -s v -l verbose -d 'More output: -v explains decisions, -vv traces'
complete -c devenv -n "__fish_devenv_using_subcommand validate" -s q -l quiet -d 'Only errors'
complete -c devenv -n "__fish_devenv_using_subcommand validate" -s h -l help -d 'Print help'
complete -c devenv -n "__fish_devenv_using_subcommand validate" -s V -l version -d 'Print version'
complete -c devenv -n "__fish_devenv_using_subcommand config" -s f -l file -d 'Manifest to use instead of the nearest devenv.toml' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand config" -s C -d 'Run as if started in DIR' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand config" -l cache -d 'Registry cache (`host/repo`) to use instead of the manifest\'s `[cache] registry`' -r
complete -c devenv -n "__fish_devenv_using_subcommand config" -l platform -d 'Platform to build and run the environment for (`linux/arm64`), instead of the engine\'s; another architecture runs under the engine\'s emulation' -r
complete -c devenv -n "__fish_devenv_using_subcommand config" -l color -d 'When to use colours' -r -f -a "auto\t''
always\t''
never\t''"
complete -c devenv -n "__fish_devenv_using_subcommand config" -l json -d 'JSON instead of TOML-like text'
complete -c devenv -n "__fish_devenv_using_subcommand config" -s v -l verbose -d 'More output: -v explains decisions, -vv traces'
complete -c devenv -n "__fish_devenv_using_subcommand config" -s q -l quiet -d 'Only errors'
complete -c devenv -n "__fish_devenv_using_subcommand config" -s h -l help -d 'Print help'
complete -c devenv -n "__fish_devenv_using_subcommand config" -s V -l version -d 'Print version'
complete -c devenv -n "__fish_devenv_using_subcommand export; and not __fish_seen_subcommand_from dockerfile devcontainer compose stack help" -s f -l file -d 'Manifest to use instead of the nearest devenv.toml' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand export; and not __fish_seen_subcommand_from dockerfile devcontainer compose stack help" -s C -d 'Run as if started in DIR' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand export; and not __fish_seen_subcommand_from dockerfile devcontainer compose stack help" -l cache -d 'Registry cache (`host/repo`) to use instead of the manifest\'s `[cache] registry`' -r
complete -c devenv -n "__fish_devenv_using_subcommand export; and not __fish_seen_subcommand_from dockerfile devcontainer compose stack help" -l platform -d 'Platform to build and run the environment for (`linux/arm64`), instead of the engine\'s; another architecture runs under the engine\'s emulation' -r
complete -c devenv -n "__fish_devenv_using_subcommand export; and not __fish_seen_subcommand_from dockerfile devcontainer compose stack help" -l color -d 'When to use colours' -r -f -a "auto\t''
always\t''
never\t''"
complete -c devenv -n "__fish_devenv_using_subcommand export; and not __fish_seen_subcommand_from dockerfile devcontainer compose stack help" -s v -l verbose -d 'More output: -v explains decisions, -vv traces'
complete -c devenv -n "__fish_devenv_using_subcommand export; and not __fish_seen_subcommand_from dockerfile devcontainer compose stack help" -s q -l quiet -d 'Only errors'
complete -c devenv -n "__fish_devenv_using_subcommand export; and not __fish_seen_subcommand_from dockerfile devcontainer compose stack help" -s h -l help -d 'Print help'
complete -c devenv -n "__fish_devenv_using_subcommand export; and not __fish_seen_subcommand_from dockerfile devcontainer compose stack help" -s V -l version -d 'Print version'
complete -c devenv -n "__fish_devenv_using_subcommand export; and not __fish_seen_subcommand_from dockerfile devcontainer compose stack help" -f -a "dockerfile" -d 'A Dockerfile and build context from which plain `docker build` makes the same image'
complete -c devenv -n "__fish_devenv_using_subcommand export; and not __fish_seen_subcommand_from dockerfile devcontainer compose stack help" -f -a "devcontainer" -d 'A devcontainer.json that opens the built environment in editors'
complete -c devenv -n "__fish_devenv_using_subcommand export; and not __fish_seen_subcommand_from dockerfile devcontainer compose stack help" -f -a "compose" -d 'A docker-compose.yml of the environment: the image by hash, the services with their healthchecks, volumes and the network'
complete -c devenv -n "__fish_devenv_using_subcommand export; and not __fish_seen_subcommand_from dockerfile devcontainer compose stack help" -f -a "stack" -d 'A Compose 3.8 stack file for `docker stack deploy`: the services with `deploy:` (replicas, placement, limits, restart policy, dnsrr) on an attachable overlay network'
complete -c devenv -n "__fish_devenv_using_subcommand export; and not __fish_seen_subcommand_from dockerfile devcontainer compose stack help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c devenv -n "__fish_devenv_using_subcommand export; and __fish_seen_subcommand_from dockerfile" -s o -l output -d 'Where to write: a directory for `dockerfile` (default .devenv/export), a file for `devcontainer` (default .devcontainer/devcontainer.json), `compose` (default docker-compose.yml) and `stack` (default docker-stack.yml); `-` for stdout' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand export; and __fish_seen_subcommand_from dockerfile" -s f -l file -d 'Manifest to use instead of the nearest devenv.toml' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand export; and __fish_seen_subcommand_from dockerfile" -s C -d 'Run as if started in DIR' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand export; and __fish_seen_subcommand_from dockerfile" -l cache -d 'Registry cache (`host/repo`) to use instead of the manifest\'s `[cache] registry`' -r
complete -c devenv -n "__fish_devenv_using_subcommand export; and __fish_seen_subcommand_from dockerfile" -l platform -d 'Platform to build and run the environment for (`linux/arm64`), instead of the engine\'s; another architecture runs under the engine\'s emulation' -r
complete -c devenv -n "__fish_devenv_using_subcommand export; and __fish_seen_subcommand_from dockerfile" -l color -d 'When to use colours' -r -f -a "auto\t''
always\t''
never\t''"
complete -c devenv -n "__fish_devenv_using_subcommand export; and __fish_seen_subcommand_from dockerfile" -l force -d 'Overwrite files that devenv did not generate'
complete -c devenv -n "__fish_devenv_using_subcommand export; and __fish_seen_subcommand_from dockerfile" -l no-caches -d 'Leave the steps\' caches out (no `RUN --mount=type=cache`), for the classic builder; the image is the same'
complete -c devenv -n "__fish_devenv_using_subcommand export; and __fish_seen_subcommand_from dockerfile" -s v -l verbose -d 'More output: -v explains decisions, -vv traces'
complete -c devenv -n "__fish_devenv_using_subcommand export; and __fish_seen_subcommand_from dockerfile" -s q -l quiet -d 'Only errors'
complete -c devenv -n "__fish_devenv_using_subcommand export; and __fish_seen_subcommand_from dockerfile" -s h -l help -d 'Print help'
complete -c devenv -n "__fish_devenv_using_subcommand export; and __fish_seen_subcommand_from dockerfile" -s V -l version -d 'Print version'
complete -c devenv -n "__fish_devenv_using_subcommand export; and __fish_seen_subcommand_from devcontainer" -s o -l output -d 'Where to write: a directory for `dockerfile` (default .devenv/export), a file for `devcontainer` (default .devcontainer/devcontainer.json), `compose` (default docker-compose.yml) and `stack` (default docker-stack.yml); `-` for stdout' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand export; and __fish_seen_subcommand_from devcontainer" -s f -l file -d 'Manifest to use instead of the nearest devenv.toml' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand export; and __fish_seen_subcommand_from devcontainer" -s C -d 'Run as if started in DIR' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand export; and __fish_seen_subcommand_from devcontainer" -l cache -d 'Registry cache (`host/repo`) to use instead of the manifest\'s `[cache] registry`' -r
complete -c devenv -n "__fish_devenv_using_subcommand export; and __fish_seen_subcommand_from devcontainer" -l platform -d 'Platform to build and run the environment for (`linux/arm64`), instead of the engine\'s; another architecture runs under the engine\'s emulation' -r
complete -c devenv -n "__fish_devenv_using_subcommand export; and __fish_seen_subcommand_from devcontainer" -l color -d 'When to use colours' -r -f -a "auto\t''
always\t''
never\t''"
complete -c devenv -n "__fish_devenv_using_subcommand export; and __fish_seen_subcommand_from devcontainer" -l force -d 'Overwrite files that devenv did not generate'
complete -c devenv -n "__fish_devenv_using_subcommand export; and __fish_seen_subcommand_from devcontainer" -s v -l verbose -d 'More output: -v explains decisions, -vv traces'
complete -c devenv -n "__fish_devenv_using_subcommand export; and __fish_seen_subcommand_from devcontainer" -s q -l quiet -d 'Only errors'
complete -c devenv -n "__fish_devenv_using_subcommand export; and __fish_seen_subcommand_from devcontainer" -s h -l help -d 'Print help'
complete -c devenv -n "__fish_devenv_using_subcommand export; and __fish_seen_subcommand_from devcontainer" -s V -l version -d 'Print version'
complete -c devenv -n "__fish_devenv_using_subcommand export; and __fish_seen_subcommand_from compose" -s o -l output -d 'Where to write: a directory for `dockerfile` (default .devenv/export), a file for `devcontainer` (default .devcontainer/devcontainer.json), `compose` (default docker-compose.yml) and `stack` (default docker-stack.yml); `-` for stdout' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand export; and __fish_seen_subcommand_from compose" -s f -l file -d 'Manifest to use instead of the nearest devenv.toml' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand export; and __fish_seen_subcommand_from compose" -s C -d 'Run as if started in DIR' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand export; and __fish_seen_subcommand_from compose" -l cache -d 'Registry cache (`host/repo`) to use instead of the manifest\'s `[cache] registry`' -r
complete -c devenv -n "__fish_devenv_using_subcommand export; and __fish_seen_subcommand_from compose" -l platform -d 'Platform to build and run the environment for (`linux/arm64`), instead of the engine\'s; another architecture runs under the engine\'s emulation' -r
complete -c devenv -n "__fish_devenv_using_subcommand export; and __fish_seen_subcommand_from compose" -l color -d 'When to use colours' -r -f -a "auto\t''
always\t''
never\t''"
complete -c devenv -n "__fish_devenv_using_subcommand export; and __fish_seen_subcommand_from compose" -l force -d 'Overwrite files that devenv did not generate'
complete -c devenv -n "__fish_devenv_using_subcommand export; and __fish_seen_subcommand_from compose" -s v -l verbose -d 'More output: -v explains decisions, -vv traces'
complete -c devenv -n "__fish_devenv_using_subcommand export; and __fish_seen_subcommand_from compose" -s q -l quiet -d 'Only errors'
complete -c devenv -n "__fish_devenv_using_subcommand export; and __fish_seen_subcommand_from compose" -s h -l help -d 'Print help'
complete -c devenv -n "__fish_devenv_using_subcommand export; and __fish_seen_subcommand_from compose" -s V -l version -d 'Print version'
complete -c devenv -n "__fish_devenv_using_subcommand export; and __fish_seen_subcommand_from stack" -s o -l output -d 'Where to write: a directory for `dockerfile` (default .devenv/export), a file for `devcontainer` (default .devcontainer/devcontainer.json), `compose` (default docker-compose.yml) and `stack` (default docker-stack.yml); `-` for stdout' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand export; and __fish_seen_subcommand_from stack" -s f -l file -d 'Manifest to use instead of the nearest devenv.toml' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand export; and __fish_seen_subcommand_from stack" -s C -d 'Run as if started in DIR' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand export; and __fish_seen_subcommand_from stack" -l cache -d 'Registry cache (`host/repo`) to use instead of the manifest\'s `[cache] registry`' -r
complete -c devenv -n "__fish_devenv_using_subcommand export; and __fish_seen_subcommand_from stack" -l platform -d 'Platform to build and run the environment for (`linux/arm64`), instead of the engine\'s; another architecture runs under the engine\'s emulation' -r
complete -c devenv -n "__fish_devenv_using_subcommand export; and __fish_seen_subcommand_from stack" -l color -d 'When to use colours' -r -f -a "auto\t''
always\t''
never\t''"
complete -c devenv -n "__fish_devenv_using_subcommand export; and __fish_seen_subcommand_from stack" -l force -d 'Overwrite files that devenv did not generate'
complete -c devenv -n "__fish_devenv_using_subcommand export; and __fish_seen_subcommand_from stack" -s v -l verbose -d 'More output: -v explains decisions, -vv traces'
complete -c devenv -n "__fish_devenv_using_subcommand export; and __fish_seen_subcommand_from stack" -s q -l quiet -d 'Only errors'
complete -c devenv -n "__fish_devenv_using_subcommand export; and __fish_seen_subcommand_from stack" -s h -l help -d 'Print help'
complete -c devenv -n "__fish_devenv_using_subcommand export; and __fish_seen_subcommand_from stack" -s V -l version -d 'Print version'
complete -c devenv -n "__fish_devenv_using_subcommand export; and __fish_seen_subcommand_from help" -f -a "dockerfile" -d 'A Dockerfile and build context from which plain `docker build` makes the same image'
complete -c devenv -n "__fish_devenv_using_subcommand export; and __fish_seen_subcommand_from help" -f -a "devcontainer" -d 'A devcontainer.json that opens the built environment in editors'
complete -c devenv -n "__fish_devenv_using_subcommand export; and __fish_seen_subcommand_from help" -f -a "compose" -d 'A docker-compose.yml of the environment: the image by hash, the services with their healthchecks, volumes and the network'
complete -c devenv -n "__fish_devenv_using_subcommand export; and __fish_seen_subcommand_from help" -f -a "stack" -d 'A Compose 3.8 stack file for `docker stack deploy`: the services with `deploy:` (replicas, placement, limits, restart policy, dnsrr) on an attachable overlay network'
complete -c devenv -n "__fish_devenv_using_subcommand export; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c devenv -n "__fish_devenv_using_subcommand import; and not __fish_seen_subcommand_from devcontainer help" -s f -l file -d 'Manifest to use instead of the nearest devenv.toml' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand import; and not __fish_seen_subcommand_from devcontainer help" -s C -d 'Run as if started in DIR' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand import; and not __fish_seen_subcommand_from devcontainer help" -l cache -d 'Registry cache (`host/repo`) to use instead of the manifest\'s `[cache] registry`' -r
complete -c devenv -n "__fish_devenv_using_subcommand import; and not __fish_seen_subcommand_from devcontainer help" -l platform -d 'Platform to build and run the environment for (`linux/arm64`), instead of the engine\'s; another architecture runs under the engine\'s emulation' -r
complete -c devenv -n "__fish_devenv_using_subcommand import; and not __fish_seen_subcommand_from devcontainer help" -l color -d 'When to use colours' -r -f -a "auto\t''
always\t''
never\t''"
complete -c devenv -n "__fish_devenv_using_subcommand import; and not __fish_seen_subcommand_from devcontainer help" -s v -l verbose -d 'More output: -v explains decisions, -vv traces'
complete -c devenv -n "__fish_devenv_using_subcommand import; and not __fish_seen_subcommand_from devcontainer help" -s q -l quiet -d 'Only errors'
complete -c devenv -n "__fish_devenv_using_subcommand import; and not __fish_seen_subcommand_from devcontainer help" -s h -l help -d 'Print help'
complete -c devenv -n "__fish_devenv_using_subcommand import; and not __fish_seen_subcommand_from devcontainer help" -s V -l version -d 'Print version'
complete -c devenv -n "__fish_devenv_using_subcommand import; and not __fish_seen_subcommand_from devcontainer help" -f -a "devcontainer" -d 'devcontainer.json (image- or Dockerfile-based) to devenv.toml; prints a warning for every property it cannot carry over'
complete -c devenv -n "__fish_devenv_using_subcommand import; and not __fish_seen_subcommand_from devcontainer help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c devenv -n "__fish_devenv_using_subcommand import; and __fish_seen_subcommand_from devcontainer" -s f -l file -d 'Manifest to use instead of the nearest devenv.toml' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand import; and __fish_seen_subcommand_from devcontainer" -s C -d 'Run as if started in DIR' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand import; and __fish_seen_subcommand_from devcontainer" -l cache -d 'Registry cache (`host/repo`) to use instead of the manifest\'s `[cache] registry`' -r
complete -c devenv -n "__fish_devenv_using_subcommand import; and __fish_seen_subcommand_from devcontainer" -l platform -d 'Platform to build and run the environment for (`linux/arm64`), instead of the engine\'s; another architecture runs under the engine\'s emulation' -r
complete -c devenv -n "__fish_devenv_using_subcommand import; and __fish_seen_subcommand_from devcontainer" -l color -d 'When to use colours' -r -f -a "auto\t''
always\t''
never\t''"
complete -c devenv -n "__fish_devenv_using_subcommand import; and __fish_seen_subcommand_from devcontainer" -l force -d 'Overwrite an existing devenv.toml'
complete -c devenv -n "__fish_devenv_using_subcommand import; and __fish_seen_subcommand_from devcontainer" -s v -l verbose -d 'More output: -v explains decisions, -vv traces'
complete -c devenv -n "__fish_devenv_using_subcommand import; and __fish_seen_subcommand_from devcontainer" -s q -l quiet -d 'Only errors'
complete -c devenv -n "__fish_devenv_using_subcommand import; and __fish_seen_subcommand_from devcontainer" -s h -l help -d 'Print help'
complete -c devenv -n "__fish_devenv_using_subcommand import; and __fish_seen_subcommand_from devcontainer" -s V -l version -d 'Print version'
complete -c devenv -n "__fish_devenv_using_subcommand import; and __fish_seen_subcommand_from help" -f -a "devcontainer" -d 'devcontainer.json (image- or Dockerfile-based) to devenv.toml; prints a warning for every property it cannot carry over'
complete -c devenv -n "__fish_devenv_using_subcommand import; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c devenv -n "__fish_devenv_using_subcommand watch" -l debounce -d 'Quiet time after the last change before acting, in milliseconds' -r
complete -c devenv -n "__fish_devenv_using_subcommand watch" -l on-busy -d 'When a rule\'s files change while its command still runs: run it once more after it ends (queue), or stop it and start again (restart)' -r -f -a "queue\t''
restart\t''"
complete -c devenv -n "__fish_devenv_using_subcommand watch" -s f -l file -d 'Manifest to use instead of the nearest devenv.toml' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand watch" -s C -d 'Run as if started in DIR' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand watch" -l cache -d 'Registry cache (`host/repo`) to use instead of the manifest\'s `[cache] registry`' -r
complete -c devenv -n "__fish_devenv_using_subcommand watch" -l platform -d 'Platform to build and run the environment for (`linux/arm64`), instead of the engine\'s; another architecture runs under the engine\'s emulation' -r
complete -c devenv -n "__fish_devenv_using_subcommand watch" -l color -d 'When to use colours' -r -f -a "auto\t''
always\t''
never\t''"
complete -c devenv -n "__fish_devenv_using_subcommand watch" -l locked -d 'Fail instead of writing devenv.lock (for CI)'
complete -c devenv -n "__fish_devenv_using_subcommand watch" -l poll -d 'Poll for changes instead of using inotify (network filesystems, exhausted limits)'
complete -c devenv -n "__fish_devenv_using_subcommand watch" -s v -l verbose -d 'More output: -v explains decisions, -vv traces'
complete -c devenv -n "__fish_devenv_using_subcommand watch" -s q -l quiet -d 'Only errors'
complete -c devenv -n "__fish_devenv_using_subcommand watch" -s h -l help -d 'Print help'
complete -c devenv -n "__fish_devenv_using_subcommand watch" -s V -l version -d 'Print version'
complete -c devenv -n "__fish_devenv_using_subcommand doctor" -s f -l file -d 'Manifest to use instead of the nearest devenv.toml' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand doctor" -s C -d 'Run as if started in DIR' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand doctor" -l cache -d 'Registry cache (`host/repo`) to use instead of the manifest\'s `[cache] registry`' -r
complete -c devenv -n "__fish_devenv_using_subcommand doctor" -l platform -d 'Platform to build and run the environment for (`linux/arm64`), instead of the engine\'s; another architecture runs under the engine\'s emulation' -r
complete -c devenv -n "__fish_devenv_using_subcommand doctor" -l color -d 'When to use colours' -r -f -a "auto\t''
always\t''
never\t''"
complete -c devenv -n "__fish_devenv_using_subcommand doctor" -s v -l verbose -d 'More output: -v explains decisions, -vv traces'
complete -c devenv -n "__fish_devenv_using_subcommand doctor" -s q -l quiet -d 'Only errors'
complete -c devenv -n "__fish_devenv_using_subcommand doctor" -s h -l help -d 'Print help'
complete -c devenv -n "__fish_devenv_using_subcommand doctor" -s V -l version -d 'Print version'
complete -c devenv -n "__fish_devenv_using_subcommand init" -s t -l template -d 'Template to use instead of the detected one (see --list)' -r
complete -c devenv -n "__fish_devenv_using_subcommand init" -l base -d 'Base image instead of the template\'s' -r
complete -c devenv -n "__fish_devenv_using_subcommand init" -l ports -d 'Ports to publish instead of the template\'s: "3000", "8080:80", comma-separated; "" for none' -r
complete -c devenv -n "__fish_devenv_using_subcommand init" -l name -d 'Project name instead of the directory\'s' -r
complete -c devenv -n "__fish_devenv_using_subcommand init" -s f -l file -d 'Manifest to use instead of the nearest devenv.toml' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand init" -s C -d 'Run as if started in DIR' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand init" -l cache -d 'Registry cache (`host/repo`) to use instead of the manifest\'s `[cache] registry`' -r
complete -c devenv -n "__fish_devenv_using_subcommand init" -l platform -d 'Platform to build and run the environment for (`linux/arm64`), instead of the engine\'s; another architecture runs under the engine\'s emulation' -r
complete -c devenv -n "__fish_devenv_using_subcommand init" -l color -d 'When to use colours' -r -f -a "auto\t''
always\t''
never\t''"
complete -c devenv -n "__fish_devenv_using_subcommand init" -s y -l yes -d 'Accept the detected and default answers without asking'
complete -c devenv -n "__fish_devenv_using_subcommand init" -l force -d 'Replace an existing manifest'
complete -c devenv -n "__fish_devenv_using_subcommand init" -l list -d 'List the templates and exit'
complete -c devenv -n "__fish_devenv_using_subcommand init" -s v -l verbose -d 'More output: -v explains decisions, -vv traces'
complete -c devenv -n "__fish_devenv_using_subcommand init" -s q -l quiet -d 'Only errors'
complete -c devenv -n "__fish_devenv_using_subcommand init" -s h -l help -d 'Print help'
complete -c devenv -n "__fish_devenv_using_subcommand init" -s V -l version -d 'Print version'
complete -c devenv -n "__fish_devenv_using_subcommand completions" -s f -l file -d 'Manifest to use instead of the nearest devenv.toml' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand completions" -s C -d 'Run as if started in DIR' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand completions" -l cache -d 'Registry cache (`host/repo`) to use instead of the manifest\'s `[cache] registry`' -r
complete -c devenv -n "__fish_devenv_using_subcommand completions" -l platform -d 'Platform to build and run the environment for (`linux/arm64`), instead of the engine\'s; another architecture runs under the engine\'s emulation' -r
complete -c devenv -n "__fish_devenv_using_subcommand completions" -l color -d 'When to use colours' -r -f -a "auto\t''
always\t''
never\t''"
complete -c devenv -n "__fish_devenv_using_subcommand completions" -s v -l verbose -d 'More output: -v explains decisions, -vv traces'
complete -c devenv -n "__fish_devenv_using_subcommand completions" -s q -l quiet -d 'Only errors'
complete -c devenv -n "__fish_devenv_using_subcommand completions" -s h -l help -d 'Print help'
complete -c devenv -n "__fish_devenv_using_subcommand completions" -s V -l version -d 'Print version'
complete -c devenv -n "__fish_devenv_using_subcommand man" -s f -l file -d 'Manifest to use instead of the nearest devenv.toml' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand man" -s C -d 'Run as if started in DIR' -r -F
complete -c devenv -n "__fish_devenv_using_subcommand man" -l cache -d 'Registry cache (`host/repo`) to use instead of the manifest\'s `[cache] registry`' -r
complete -c devenv -n "__fish_devenv_using_subcommand man" -l platform -d 'Platform to build and run the environment for (`linux/arm64`), instead of the engine\'s; another architecture runs under the engine\'s emulation' -r
complete -c devenv -n "__fish_devenv_using_subcommand man" -l color -d 'When to use colours' -r -f -a "auto\t''
always\t''
never\t''"
complete -c devenv -n "__fish_devenv_using_subcommand man" -s v -l verbose -d 'More output: -v explains decisions, -vv traces'
complete -c devenv -n "__fish_devenv_using_subcommand man" -s q -l quiet -d 'Only errors'
complete -c devenv -n "__fish_devenv_using_subcommand man" -s h -l help -d 'Print help'
complete -c devenv -n "__fish_devenv_using_subcommand man" -s V -l version -d 'Print version'
complete -c devenv -n "__fish_devenv_using_subcommand help; and not __fish_seen_subcommand_from up shell run build hash lock status fetch down logs restart scale prune push verify diff pack load validate config export import watch doctor init completions man help" -f -a "up" -d 'Build what is missing, create or reuse the container, run hooks'
complete -c devenv -n "__fish_devenv_using_subcommand help; and not __fish_seen_subcommand_from up shell run build hash lock status fetch down logs restart scale prune push verify diff pack load validate config export import watch doctor init completions man help" -f -a "shell" -d 'Open an interactive shell in the environment (starting it if needed)'
complete -c devenv -n "__fish_devenv_using_subcommand help; and not __fish_seen_subcommand_from up shell run build hash lock status fetch down logs restart scale prune push verify diff pack load validate config export import watch doctor init completions man help" -f -a "run" -d 'Run a command in the environment and exit with its status'
complete -c devenv -n "__fish_devenv_using_subcommand help; and not __fish_seen_subcommand_from up shell run build hash lock status fetch down logs restart scale prune push verify diff pack load validate config export import watch doctor init completions man help" -f -a "build" -d 'Build the image only'
complete -c devenv -n "__fish_devenv_using_subcommand help; and not __fish_seen_subcommand_from up shell run build hash lock status fetch down logs restart scale prune push verify diff pack load validate config export import watch doctor init completions man help" -f -a "hash" -d 'Print the image hash (64 hex characters)'
complete -c devenv -n "__fish_devenv_using_subcommand help; and not __fish_seen_subcommand_from up shell run build hash lock status fetch down logs restart scale prune push verify diff pack load validate config export import watch doctor init completions man help" -f -a "lock" -d 'Create devenv.lock, or move the base on purpose with --update'
complete -c devenv -n "__fish_devenv_using_subcommand help; and not __fish_seen_subcommand_from up shell run build hash lock status fetch down logs restart scale prune push verify diff pack load validate config export import watch doctor init completions man help" -f -a "status" -d 'Show the image and container state'
complete -c devenv -n "__fish_devenv_using_subcommand help; and not __fish_seen_subcommand_from up shell run build hash lock status fetch down logs restart scale prune push verify diff pack load validate config export import watch doctor init completions man help" -f -a "fetch" -d 'Copy files from the environment\'s workspace into the project (for remote engines, whose workspace is a synced copy: test reports, generated files)'
complete -c devenv -n "__fish_devenv_using_subcommand help; and not __fish_seen_subcommand_from up shell run build hash lock status fetch down logs restart scale prune push verify diff pack load validate config export import watch doctor init completions man help" -f -a "down" -d 'Remove this project\'s container (and named volumes with --volumes)'
complete -c devenv -n "__fish_devenv_using_subcommand help; and not __fish_seen_subcommand_from up shell run build hash lock status fetch down logs restart scale prune push verify diff pack load validate config export import watch doctor init completions man help" -f -a "logs" -d 'Show the output of the services and the dev container, each line prefixed with its source'
complete -c devenv -n "__fish_devenv_using_subcommand help; and not __fish_seen_subcommand_from up shell run build hash lock status fetch down logs restart scale prune push verify diff pack load validate config export import watch doctor init completions man help" -f -a "restart" -d 'Restart services (all without arguments) and wait until they are ready'
complete -c devenv -n "__fish_devenv_using_subcommand help; and not __fish_seen_subcommand_from up shell run build hash lock status fetch down logs restart scale prune push verify diff pack load validate config export import watch doctor init completions man help" -f -a "scale" -d 'Change how many replicas of services run, at once; the next `devenv up` goes back to the manifest\'s counts'
complete -c devenv -n "__fish_devenv_using_subcommand help; and not __fish_seen_subcommand_from up shell run build hash lock status fetch down logs restart scale prune push verify diff pack load validate config export import watch doctor init completions man help" -f -a "prune" -d 'Remove images and build leftovers of this project that nothing uses'
complete -c devenv -n "__fish_devenv_using_subcommand help; and not __fish_seen_subcommand_from up shell run build hash lock status fetch down logs restart scale prune push verify diff pack load validate config export import watch doctor init completions man help" -f -a "push" -d 'Push the current image to the registry cache as `<registry>:<hash>`'
complete -c devenv -n "__fish_devenv_using_subcommand help; and not __fish_seen_subcommand_from up shell run build hash lock status fetch down logs restart scale prune push verify diff pack load validate config export import watch doctor init completions man help" -f -a "verify" -d 'Prove the local environment is what devenv.toml, devenv.lock and the inputs say'
complete -c devenv -n "__fish_devenv_using_subcommand help; and not __fish_seen_subcommand_from up shell run build hash lock status fetch down logs restart scale prune push verify diff pack load validate config export import watch doctor init completions man help" -f -a "diff" -d 'Show what differs between two environments: inputs, files, packages'
complete -c devenv -n "__fish_devenv_using_subcommand help; and not __fish_seen_subcommand_from up shell run build hash lock status fetch down logs restart scale prune push verify diff pack load validate config export import watch doctor init completions man help" -f -a "pack" -d 'Write the environment\'s layer chain, lock and identity into one file'
complete -c devenv -n "__fish_devenv_using_subcommand help; and not __fish_seen_subcommand_from up shell run build hash lock status fetch down logs restart scale prune push verify diff pack load validate config export import watch doctor init completions man help" -f -a "load" -d 'Load a file written by `devenv pack`, without registry or network'
complete -c devenv -n "__fish_devenv_using_subcommand help; and not __fish_seen_subcommand_from up shell run build hash lock status fetch down logs restart scale prune push verify diff pack load validate config export import watch doctor init completions man help" -f -a "validate" -d 'Check the manifest and report every problem'
complete -c devenv -n "__fish_devenv_using_subcommand help; and not __fish_seen_subcommand_from up shell run build hash lock status fetch down logs restart scale prune push verify diff pack load validate config export import watch doctor init completions man help" -f -a "config" -d 'Print the resolved manifest with every default filled in'
complete -c devenv -n "__fish_devenv_using_subcommand help; and not __fish_seen_subcommand_from up shell run build hash lock status fetch down logs restart scale prune push verify diff pack load validate config export import watch doctor init completions man help" -f -a "export" -d 'Write the environment for tools that don\'t know devenv (Dockerfile, devcontainer.json)'
complete -c devenv -n "__fish_devenv_using_subcommand help; and not __fish_seen_subcommand_from up shell run build hash lock status fetch down logs restart scale prune push verify diff pack load validate config export import watch doctor init completions man help" -f -a "import" -d 'Write devenv.toml from another tool\'s configuration (devcontainer.json)'
complete -c devenv -n "__fish_devenv_using_subcommand help; and not __fish_seen_subcommand_from up shell run build hash lock status fetch down logs restart scale prune push verify diff pack load validate config export import watch doctor init completions man help" -f -a "watch" -d 'Keep the environment current while you work; run `[[watch]]` rules'
complete -c devenv -n "__fish_devenv_using_subcommand help; and not __fish_seen_subcommand_from up shell run build hash lock status fetch down logs restart scale prune push verify diff pack load validate config export import watch doctor init completions man help" -f -a "doctor" -d 'Check the Docker engine and this machine'
complete -c devenv -n "__fish_devenv_using_subcommand help; and not __fish_seen_subcommand_from up shell run build hash lock status fetch down logs restart scale prune push verify diff pack load validate config export import watch doctor init completions man help" -f -a "init" -d 'Write a devenv.toml for this project from a template'
complete -c devenv -n "__fish_devenv_using_subcommand help; and not __fish_seen_subcommand_from up shell run build hash lock status fetch down logs restart scale prune push verify diff pack load validate config export import watch doctor init completions man help" -f -a "completions" -d 'Print a shell completion script'
complete -c devenv -n "__fish_devenv_using_subcommand help; and not __fish_seen_subcommand_from up shell run build hash lock status fetch down logs restart scale prune push verify diff pack load validate config export import watch doctor init completions man help" -f -a "man" -d 'Print the man page (roff)'
complete -c devenv -n "__fish_devenv_using_subcommand help; and not __fish_seen_subcommand_from up shell run build hash lock status fetch down logs restart scale prune push verify diff pack load validate config export import watch doctor init completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c devenv -n "__fish_devenv_using_subcommand help; and __fish_seen_subcommand_from export" -f -a "dockerfile" -d 'A Dockerfile and build context from which plain `docker build` makes the same image'
complete -c devenv -n "__fish_devenv_using_subcommand help; and __fish_seen_subcommand_from export" -f -a "devcontainer" -d 'A devcontainer.json that opens the built environment in editors'
complete -c devenv -n "__fish_devenv_using_subcommand help; and __fish_seen_subcommand_from export" -f -a "compose" -d 'A docker-compose.yml of the environment: the image by hash, the services with their healthchecks, volumes and the network'
complete -c devenv -n "__fish_devenv_using_subcommand help; and __fish_seen_subcommand_from export" -f -a "stack" -d 'A Compose 3.8 stack file for `docker stack deploy`: the services with `deploy:` (replicas, placement, limits, restart policy, dnsrr) on an attachable overlay network'
complete -c devenv -n "__fish_devenv_using_subcommand help; and __fish_seen_subcommand_from import" -f -a "devcontainer" -d 'devcontainer.json (image- or Dockerfile-based) to devenv.toml; prints a warning for every property it cannot carry over'
