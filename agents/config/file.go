package config

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
)

// blockKinds maps each top-level block type to the kind of file it belongs in.
var blockKinds = map[string]Kind{
	"director":                KindDirector,
	"client":                  KindDirector,
	"console":                 KindDirector,
	"storage":                 KindDirector,
	"fileset":                 KindDirector,
	"job":                     KindDirector,
	string(KindStorageDaemon): KindStorageDaemon,
	string(KindFileDaemon):    KindFileDaemon,
}

// topSchema lists the top-level blocks, in the order files usually hold them.
var topSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
	{Type: "director", LabelNames: []string{"name"}},
	{Type: "client", LabelNames: []string{"name"}},
	{Type: "console", LabelNames: []string{"name"}},
	{Type: "storage", LabelNames: []string{"name"}},
	{Type: "fileset", LabelNames: []string{"name"}},
	{Type: "job", LabelNames: []string{"name"}},
	{Type: string(KindStorageDaemon), LabelNames: []string{"name"}},
	{Type: string(KindFileDaemon), LabelNames: []string{"name"}},
}}

// file is one configuration file read down to its top-level blocks.
type file struct {
	d      *decoder
	kind   Kind
	main   *hcl.Block // the director, storage_daemon or file_daemon block
	blocks hcl.Blocks // the other blocks of this kind, in file order
}

// parse reads src as a file of kind want, or of the kind its blocks show
// when want is "". f.main is nil when the file cannot be decoded further.
func parse(filename string, src []byte, want Kind) *file {
	f := &file{d: &decoder{file: filename, src: src}, kind: want}
	hf, diags := hclparse.NewParser().ParseHCL(src, filename)
	if diags.HasErrors() || hf == nil {
		f.d.bodyDiags(diags, "")
		return f
	}
	content, diags := hf.Body.Content(topSchema)
	f.d.bodyDiags(diags, "")
	if f.kind == "" {
		f.kind = firstKind(content.Blocks)
	}
	if f.kind == "" {
		f.d.add(Problem{File: filename, Msg: "no director, storage_daemon or file_daemon block: " +
			"cannot tell what kind of configuration file this is"})
		return f
	}
	f.sortBlocks(content.Blocks)
	return f
}

func firstKind(blocks hcl.Blocks) Kind {
	for _, b := range blocks {
		if k, ok := blockKinds[b.Type]; ok {
			return k
		}
	}
	return ""
}

// sortBlocks keeps the blocks of f's kind, reporting foreign and extra ones.
func (f *file) sortBlocks(blocks hcl.Blocks) {
	for _, b := range blocks {
		switch {
		case blockKinds[b.Type] != f.kind:
			f.d.add(problemAt(b.DefRange, blockKey(b.Type, b.Labels[0]), fmt.Sprintf(
				"a %s file cannot hold a %s block; each daemon's configuration goes in its own file",
				f.kind, b.Type)))
		case b.Type != string(f.kind):
			f.blocks = append(f.blocks, b)
		case f.main != nil:
			f.d.add(problemAt(b.DefRange, blockKey(b.Type, b.Labels[0]), fmt.Sprintf(
				"more than one %s block; the first is at line %d", b.Type, f.main.DefRange.Start.Line)))
		default:
			f.main = b
		}
	}
	if f.main == nil {
		f.d.add(Problem{File: f.d.file, Key: string(f.kind),
			Msg: fmt.Sprintf("no %s block; a %s file needs exactly one", f.kind, f.kind)})
	}
}

// result is every problem found, the decoder's and extra, in file order.
func (f *file) result(extra Problems) error {
	return append(f.d.probs, extra...).sorted().err()
}
