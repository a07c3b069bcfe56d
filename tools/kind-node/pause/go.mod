// The pause program of the kind node image's sandbox ("pause") image (tools/kind-node/build.sh).
module authmatrix.local/tools/kind-node/pause

go 1.24
