fn main() {
    std::process::exit(crossthemes::cli::main());
}
