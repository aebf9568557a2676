package config

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/gocty"
)

// decoder turns one file's blocks into values, collecting problems.
type decoder struct {
	file  string
	src   []byte
	probs Problems
}

func (d *decoder) add(p Problem) { d.probs = append(d.probs, p) }

// exprDiags records diagnostics about the value of key.
func (d *decoder) exprDiags(ds hcl.Diagnostics, key string) {
	for _, diag := range ds.Errs() {
		d.add(diagProblem(diag.(*hcl.Diagnostic), d.file, key))
	}
}

// bodyDiags records diagnostics about the contents of block prefix.
func (d *decoder) bodyDiags(ds hcl.Diagnostics, prefix string) {
	for _, diag := range ds.Errs() {
		hd := diag.(*hcl.Diagnostic)
		d.add(diagProblem(hd, d.file, subKey(hd, d.src, prefix)))
	}
}

// block is one labelled block being decoded.
type block struct {
	d     *decoder
	key   string
	attrs hcl.Attributes
	pos   *blockPos
}

func attrSchema(names ...string) *hcl.BodySchema {
	s := &hcl.BodySchema{}
	for _, n := range names {
		s.Attributes = append(s.Attributes, hcl.AttributeSchema{Name: n})
	}
	return s
}

// open reads b's body against schema. b has one label, its name.
func (d *decoder) open(b *hcl.Block, schema *hcl.BodySchema) *block {
	key := blockKey(b.Type, b.Labels[0])
	content, diags := b.Body.Content(schema)
	d.bodyDiags(diags, key)
	attrs := hcl.Attributes{}
	if content != nil {
		attrs = content.Attributes
	}
	pos := &blockPos{def: b.LabelRanges[0], attrs: map[string]hcl.Range{}, bad: map[string]bool{}}
	return &block{d: d, key: key, attrs: attrs, pos: pos}
}

// fail records a problem with the value of attribute name.
func (b *block) fail(name, msg string) {
	b.pos.bad[name] = true
	r, _ := b.pos.at(name)
	b.d.add(problemAt(r, joinKey(b.key, name), msg))
}

// value decodes attribute name into dst if it is set and well typed.
func value[T any](b *block, name string, dst *T) bool {
	a, ok := b.attrs[name]
	if !ok {
		return false
	}
	b.pos.attrs[name] = a.Expr.Range()
	var v T
	diags := evalInto(a.Expr, &v)
	b.d.exprDiags(diags, joinKey(b.key, name))
	if diags.HasErrors() {
		b.pos.bad[name] = true
		return false
	}
	*dst = v
	return true
}

// evalInto evaluates expr with no variables or functions into *dst. It is
// gohcl.DecodeExpression without the gohcl package, whose hclwrite import
// would pull a module the build does not yet list; it also stops after a
// failed evaluation instead of reporting the unknown result twice.
func evalInto[T any](expr hcl.Expression, dst *T) hcl.Diagnostics {
	val, diags := expr.Value(nil)
	if diags.HasErrors() {
		return diags
	}
	ty, err := gocty.ImpliedType(dst)
	if err == nil {
		if val, err = convert.Convert(val, ty); err == nil {
			err = gocty.FromCtyValue(val, dst)
		}
	}
	if err != nil {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Unsuitable value",
			Detail:   err.Error(),
			Subject:  expr.Range().Ptr(),
		})
	}
	return diags
}

// list decodes a list of strings, recording where each item is.
func (b *block) list(name string, dst *[]string) bool {
	if !value(b, name, dst) {
		return false
	}
	items, diags := hcl.ExprList(b.attrs[name].Expr)
	if diags.HasErrors() {
		return true
	}
	for i, e := range items {
		b.pos.attrs[fmt.Sprintf("%s[%d]", name, i)] = e.Range()
	}
	return true
}

// path decodes a local file system path, cleaned.
func (b *block) path(name string, dst *string) {
	if value(b, name, dst) && *dst != "" {
		*dst = filepath.Clean(*dst)
	}
}

// duration decodes a Go duration string such as "10s".
func (b *block) duration(name string, dst *time.Duration) {
	var s string
	if !value(b, name, &s) {
		return
	}
	v, err := parseDuration(s)
	if err != nil {
		b.fail(name, err.Error())
		return
	}
	*dst = v
}

// size decodes a byte count such as "50GiB" or 1024.
func (b *block) size(name string, dst *int64) {
	var s string
	if !value(b, name, &s) {
		return
	}
	v, err := parseSize(s)
	if err != nil {
		b.fail(name, err.Error())
		return
	}
	*dst = v
}
