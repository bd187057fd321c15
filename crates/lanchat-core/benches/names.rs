//! Name validation and normalization (NFKC, case fold, TR39 skeletons),
//! paid once per join attempt. Run with `cargo bench -p lanchat-core`.

use divan::black_box;
use lanchat_core::Name;

fn main() {
    divan::main();
}

#[divan::bench(args = ["alice", "Ｊｏｓé_2", "Дмитрий", "李雷"])]
fn validate_and_normalize(name: &str) -> Result<Name, lanchat_core::NameError> {
    Name::parse(black_box(name))
}
