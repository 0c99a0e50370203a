fn main() {
    println!("I am a command-line program, not an HTTP handler");
}
