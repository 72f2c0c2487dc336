package awsemu

import "strings"

const maxTagsPerResource = 50

// kmsTag is KMS's Tag structure.
type kmsTag struct {
	TagKey   *string `json:"TagKey"`
	TagValue *string `json:"TagValue"`
}

// tagOut is a tag as KMS answers it.
type tagOut struct {
	TagKey   string `json:"TagKey"`
	TagValue string `json:"TagValue"`
}

// validateKMSTags checks the model constraints of a tag list.
func validateKMSTags(v *validator, tags []kmsTag) {
	for _, t := range tags {
		v.reqStr("tags.member.tagKey", t.TagKey, 1, 128)
		v.reqStr("tags.member.tagValue", t.TagValue, 0, 256)
	}
}

// checkTagLimit refuses reserved or duplicate keys and more than 50 tags
// on one key once tags are applied over existing.
func checkTagLimit(existing map[string]string, tags []kmsTag) error {
	seen := map[string]bool{}
	for k := range existing {
		seen[k] = true
	}
	for i, t := range tags {
		if strings.HasPrefix(*t.TagKey, "aws:") {
			return errf("TagException", "Tag keys beginning with 'aws:' are reserved.")
		}
		for _, u := range tags[:i] {
			if *u.TagKey == *t.TagKey {
				return errf("TagException", "Duplicate tag key %s in the request.", *t.TagKey)
			}
		}
		seen[*t.TagKey] = true
	}
	if len(seen) > maxTagsPerResource {
		return errf("LimitExceededException", "A KMS key can have at most %d tags.", maxTagsPerResource)
	}
	return nil
}

func applyKMSTags(k *kmsKey, tags []kmsTag) {
	for _, t := range tags {
		k.Tags[*t.TagKey] = *t.TagValue
	}
}

type tagResourceInput struct {
	KeyId *string
	Tags  []kmsTag
}

func (e *Emulator) tagResource(in *tagResourceInput) (any, error) {
	var v validator
	v.reqStr("keyId", in.KeyId, 1, maxKeyIDLen)
	v.required("tags", in.Tags != nil)
	validateKMSTags(&v, in.Tags)
	if err := v.err(); err != nil {
		return nil, err
	}
	k, err := e.taggableKey(*in.KeyId)
	if err != nil {
		return nil, err
	}
	if err := checkTagLimit(k.Tags, in.Tags); err != nil {
		return nil, err
	}
	applyKMSTags(k, in.Tags)
	e.touch()
	return nil, nil
}

type untagResourceInput struct {
	KeyId   *string
	TagKeys []string
}

func (e *Emulator) untagResource(in *untagResourceInput) (any, error) {
	var v validator
	v.reqStr("keyId", in.KeyId, 1, maxKeyIDLen)
	v.required("tagKeys", in.TagKeys != nil)
	for i := range in.TagKeys {
		v.str("tagKeys.member", &in.TagKeys[i], 1, 128)
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	k, err := e.taggableKey(*in.KeyId)
	if err != nil {
		return nil, err
	}
	for _, key := range in.TagKeys {
		delete(k.Tags, key)
	}
	e.touch()
	return nil, nil
}

// taggableKey resolves a key whose tags may change.
func (e *Emulator) taggableKey(id string) (*kmsKey, error) {
	k, err := e.resolveKey(id, false)
	if err != nil {
		return nil, err
	}
	return k, e.requireNotPendingDeletion(k)
}

type listResourceTagsInput struct {
	KeyId  *string
	Limit  *int64
	Marker *string
}

type listResourceTagsOutput struct {
	Tags       []tagOut `json:"Tags"`
	NextMarker string   `json:"NextMarker,omitempty"`
	Truncated  bool     `json:"Truncated"`
}

func (e *Emulator) listResourceTags(in *listResourceTagsInput) (any, error) {
	k, err := e.lookup(&keyIDInput{KeyId: in.KeyId}, false)
	if err != nil {
		return nil, err
	}
	tags := make([]tagOut, 0, len(k.Tags))
	for key, val := range k.Tags {
		tags = append(tags, tagOut{TagKey: key, TagValue: val})
	}
	l := sortedListing(tags, func(t tagOut) string { return t.TagKey }, false, "ListResourceTags:"+k.ID)
	page, next, err := listPage(&listInput{Limit: in.Limit, Marker: in.Marker}, l, 50, 50)
	if err != nil {
		return nil, err
	}
	return listResourceTagsOutput{Tags: page, NextMarker: next, Truncated: next != ""}, nil
}
