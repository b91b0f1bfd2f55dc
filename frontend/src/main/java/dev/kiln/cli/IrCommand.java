package dev.kiln.cli;

import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/// `kiln ir ...`: tools on `.kir` text files. Each tool (`check`, `print`, `run`, ...) is one
/// class annotated `@Command(name = ...)` and listed in `subcommands` below. Invariant: this
/// command does nothing by itself; without a subcommand it prints its usage and fails as a
/// usage error.
@Command(name = "ir",
        description = "Check, print, run, differentiate and optimize graph IR text files (.kir).",
        subcommands = {IrCheckCommand.class, IrPrintCommand.class, IrRunCommand.class, IrGradCommand.class,
                IrOptCommand.class})
final class IrCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Override public Integer call() {
        spec.commandLine().usage(spec.commandLine().getErr());
        return Main.EXIT_USAGE;
    }
}
